--[[ expireTasks: pending tasks past their ttl become failed with error 'expired'.
KEYS[1]  K.ttl
ARGV[4]  most tasks to expire in this call
Returns the number expired
ARGV[5] leadership token '<owner>|<epoch>' (optional; when given and not current, nothing is done)
Returns -1 when refused for a stale leadership token
]]
if not is_leader(ARGV[5] or '') then return -1 end
local now = now_ms()
local overdue = redis.call('ZRANGE', KEYS[1], '-inf', now, 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[4]))
local expired = 0
for _, id in ipairs(overdue) do
  local task = read_task(id)
  if task and task.status == 'pending' then
    finish(task, 'failed', now)
    set_fields(task, { error = 'expired', completedAt = now })
    emit('task.expired', task)
    expired = expired + 1
  else
    redis.call('ZREM', KEYS[1], id) -- claimed or gone since: not expiring any more
  end
end
return expired
