--[[ archiveFinished: tasks finished (completed, failed, cancelled) before a cutoff leave Redis.
Their durable record stays in the database when persistence is on (the events that carried them
are in the event stream already); without a database they are gone.
KEYS[1]  K.finished
ARGV[4]  cutoff, epoch ms: archive tasks finished before it     ARGV[5]  most tasks in this call
Returns the number archived
ARGV[6] leadership token '<owner>|<epoch>' (optional; when given and not current, nothing is done)
Returns -1 when refused for a stale leadership token
]]
if not is_leader(ARGV[6] or '') then return -1 end
local old = redis.call('ZRANGE', KEYS[1], '-inf', '(' .. ARGV[4], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[5]))
for _, id in ipairs(old) do
  local task = read_task(id)
  redis.call('ZREM', KEYS[1], id)
  if task then
    for _, index in ipairs({ K.dead, K.all, K.status(task.status) }) do
      redis.call('ZREM', index, id)
    end
    if task.idempotencyKey then redis.call('DEL', K.idempotency(task.idempotencyKey)) end
    redis.call('DEL', K.task(id))
  end
end
return #old
