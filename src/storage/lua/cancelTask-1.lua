--[[ cancelTask: soft delete. A pending, delayed or in-progress task becomes cancelled for good
(a holder's later complete/fail gets LEASE_LOST). The hash stays, for task.get and history.
KEYS[1]  K.task(<id>)
ARGV[4]  task id     ARGV[5]  reason or ''
Returns {'OK', task}
        {'NOT_FOUND'}
        {'CONFLICT', status}     already completed, failed or cancelled
]]
local task = read_task(ARGV[4])
if not task then return { 'NOT_FOUND' } end
if task.status ~= 'pending' and task.status ~= 'in_progress' then return { 'CONFLICT', task.status } end
cancel(task, ARGV[5], now_ms())
return { 'OK', encoded(task) }
