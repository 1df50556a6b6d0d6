--[[ completeTask: the lease holder finishes a task successfully.
KEYS[1]  base..'t:<id>'
ARGV[4]  task id     ARGV[5]  worker id or ''     ARGV[6]  lease token or ''
ARGV[7]  result JSON or '' (no result)
A lease that has expired but was not yet reaped still counts: nobody else holds the task.
Returns {'OK', task}
        {'NOT_FOUND'}
        {'LEASE_LOST', status, holder}      not in progress, or held by someone else / another token
]]
local task = read_task(ARGV[4])
if not task then return { 'NOT_FOUND' } end
local lost = check_holder(task, ARGV[5], ARGV[6])
if lost then return { lost, task.status, task.assignedTo or '' } end
local now = now_ms()
local run_ms = now - tonumber(task.claimedAt)
local worker = task.assignedTo
finish(task, 'completed', now)
local fields = { completedAt = now, error = false }
if ARGV[7] ~= '' then fields.result = ARGV[7] end
set_fields(task, fields)
add_sample(BASE .. 'stat:run', run_ms)
local minute = BASE .. 'stat:done:' .. math.floor(now / 60000)
-- the counter lives two hours from the minute's first completion
if redis.call('INCR', minute) == 1 then redis.call('EXPIRE', minute, 7200) end
emit('task.completed', task, { workerId = worker, runMs = run_ms })
return { 'OK', flat(task) }
