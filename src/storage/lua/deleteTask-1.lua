--[[ deleteTask: hard delete; the task leaves every structure and its hash is removed.
KEYS[1]  K.task(<id>)
ARGV[4]  task id
ARGV[5]  expected status or '' (any)     ARGV[6]  expected channel or '' (any)
         (a bulk delete by filter passes them, so a task that changed since it was listed stays)
Returns {'OK', task}      the task as it was
        {'NOT_FOUND'}
        {'CONFLICT', status}     it no longer matches the expected status or channel
]]
local task = read_task(ARGV[4])
if not task then return { 'NOT_FOUND' } end
if (ARGV[5] ~= '' and task.status ~= ARGV[5]) or (ARGV[6] ~= '' and task.channel ~= ARGV[6]) then
  return { 'CONFLICT', task.status }
end
local was = {} -- the task as it was: drop_lease below removes the lease fields from `task`
for k, v in pairs(task) do was[k] = v end
dequeue(task)
drop_lease(task)
for _, index in ipairs({ K.dead, K.finished, K.all, K.status(task.status) }) do
  redis.call('ZREM', index, task.id)
end
if task.idempotencyKey then redis.call('DEL', K.idempotency(task.idempotencyKey)) end
redis.call('DEL', KEYS[1])
emit('task.deleted', was)
return { 'OK', encoded(was) }
