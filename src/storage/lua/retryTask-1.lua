--[[ retryTask: a failed (dead-lettered or expired) or cancelled task back to pending with fresh
attempts, at its original place in the order.
KEYS[1]  K.task(<id>)
ARGV[4]  task id
Returns {'OK', task}
        {'NOT_FOUND'}
        {'CONFLICT', status}     not failed or cancelled
]]
local task = read_task(ARGV[4])
if not task then return { 'NOT_FOUND' } end
if task.status ~= 'failed' and task.status ~= 'cancelled' then return { 'CONFLICT', task.status } end
requeue(task, now_ms())
return { 'OK', encoded(task) }
