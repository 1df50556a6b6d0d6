--[[ completeTask: the lease holder finishes a task successfully.
KEYS[1]  K.task(<id>)
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
complete_task(task, ARGV[7], now_ms())
return { 'OK', encoded(task) }
