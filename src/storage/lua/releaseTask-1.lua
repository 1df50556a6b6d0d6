--[[ releaseTask: give a leased task back: pending again at its original place in the order,
the attempt not counted. Used by task.release / task.unassign (admin: no holder check when
worker and token are both '') and by a worker that stops.
KEYS[1]  K.task(<id>)
ARGV[4]  task id     ARGV[5]  worker id or ''     ARGV[6]  lease token or ''
Returns {'OK', task, previousHolder}
        {'NOT_FOUND'}
        {'LEASE_LOST', status, holder}     in progress but held by someone else
        {'CONFLICT', status}               not in progress
]]
local task = read_task(ARGV[4])
if not task then return { 'NOT_FOUND' } end
if task.status ~= 'in_progress' then return { 'CONFLICT', task.status } end
local lost = check_holder(task, ARGV[5], ARGV[6])
if lost then return { lost, task.status, task.assignedTo or '' } end
local now = now_ms()
local previous = task.assignedTo
drop_lease(task)
move_status(task, 'pending', now)
set_fields(task, { assignedTo = false, claimedAt = false, attempts = math.max(0, tonumber(task.attempts) - 1) })
enqueue(task)
if task.expiresAt then redis.call('ZADD', K.ttl, task.expiresAt, task.id) end
emit('task.unassigned', task, { previousAssignment = previous })
return { 'OK', encoded(task), previous }
