--[[ failTask: the lease holder reports a failure; retry with backoff, or dead-letter.
KEYS[1]  K.task(<id>)
ARGV[4]  task id     ARGV[5]  worker id or ''     ARGV[6]  lease token or ''
ARGV[7]  error text  ARGV[8]  retryable: '1' or '0'
ARGV[9]  backoff base ms     ARGV[10] backoff cap ms     ARGV[11] random seed (for the backoff jitter)
Returns {'RETRY', task}       back to pending after the backoff (in the delayed set)
        {'DEAD', task}        failed for good: attempts exhausted or not retryable (in dead letters)
        {'NOT_FOUND'}
        {'LEASE_LOST', status, holder}
]]
local task = read_task(ARGV[4])
if not task then return { 'NOT_FOUND' } end
local lost = check_holder(task, ARGV[5], ARGV[6])
if lost then return { lost, task.status, task.assignedTo or '' } end
math.randomseed(tonumber(ARGV[11]))
local now = now_ms()
local worker = task.assignedTo
emit('task.failed', task, { workerId = worker, error = ARGV[7], retryable = ARGV[8] == '1' })
local outcome = retry_or_bury(task, ARGV[7], tonumber(ARGV[9]), tonumber(ARGV[10]), now, ARGV[8] ~= '1')
return { outcome == 'dead' and 'DEAD' or 'RETRY', encoded(task) }
