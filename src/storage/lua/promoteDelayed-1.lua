--[[ promoteDelayed: delayed tasks (delay, retry backoff) that are due become claimable, at their
original place in the order.
KEYS[1]  K.delayed
ARGV[4]  most tasks to promote in this call
Returns the number promoted
ARGV[5] leadership token '<owner>|<epoch>' (optional; when given and not current, nothing is done)
Returns -1 when refused for a stale leadership token
]]
if not is_leader(ARGV[5] or '') then return -1 end
local now = now_ms()
local due = redis.call('ZRANGE', KEYS[1], '-inf', now, 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[4]))
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[1], id)
  local task = read_task(id)
  if task and task.status == 'pending' then
    set_fields(task, { runAfter = false })
    save(task)
    enqueue(task)
  end
end
return #due
