--[[ completeAndClaim: the lease holder finishes a task successfully and, in the same step, claims
the next task(s) for the worker that held it, as claimTasks would right after completeTask (the
slot the completion frees counts). A worker that loops needs one script and one round trip per
task instead of two (BullMQ's moveToFinished fetches the next job the same way).
KEYS[1]  K.task(<id>)   the task to complete
ARGV[4]  task id     ARGV[5]  worker id or ''     ARGV[6]  lease token or ''
ARGV[7]  result JSON or '' (no result)
ARGV[8]  how many to claim (1..10)     ARGV[9]  lease ms of the claimed tasks
ARGV[10] worker capacity (0 = no limit), or 'registered' for the maxTasks the worker registered with
ARGV[11] worker capabilities, JSON array, or ''     ARGV[12] scan limit (as claimTasks' ARGV[9])
ARGV[13] channel to claim from, or '' for any
Returns {'OK', task, claimed}   completed (task as completeTask returns it); claimed as claimTasks
                                 returns: {'OK', task, ...} (none = {'OK'}) or {'AT_CAPACITY', held, capacity}
        {'NOT_FOUND'}
        {'LEASE_LOST', status, holder}      nothing completed and nothing claimed
]]
local task = read_task(ARGV[4])
if not task then return { 'NOT_FOUND' } end
local lost = check_holder(task, ARGV[5], ARGV[6])
if lost then return { lost, task.status, task.assignedTo or '' } end
local now = now_ms()
local worker = task.assignedTo
complete_task(task, ARGV[7], now)
local index = K.pending
if ARGV[13] ~= '' then index = K.channel(ARGV[13]) end
local claimed = claim_tasks(index, worker, tonumber(ARGV[8]), tonumber(ARGV[9]), ARGV[10], ARGV[11],
  tonumber(ARGV[12]), now)
return { 'OK', encoded(task), claimed }
