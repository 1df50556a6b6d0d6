--[[ renewLease: extend the lease of a task the caller holds.
KEYS[1]  K.task(<id>)
ARGV[4]  task id     ARGV[5]  worker id or ''     ARGV[6]  lease token or ''     ARGV[7]  lease ms from now
Returns {'OK', task}                        renewed (new leaseExpiresAt; the token stays)
        {'NOT_FOUND'}
        {'LEASE_LOST', status, holder}      the caller does not hold the lease (holder '' when none)
]]
local task = read_task(ARGV[4])
if not task then return { 'NOT_FOUND' } end
local lost = check_holder(task, ARGV[5], ARGV[6])
if lost then return { lost, task.status, task.assignedTo or '' } end
local expires = now_ms() + tonumber(ARGV[7])
redis.call('ZADD', K.leases, expires, task.id)
set_fields(task, { leaseExpiresAt = expires })
save(task)
return { 'OK', encoded(task) }
