--[[ promoteDelayed: delayed tasks (delay, retry backoff) that are due become claimable, at their
original place in the order.
KEYS[1]  base..'delayed'
ARGV[4]  most tasks to promote in this call
Returns the number promoted
]]
local now = now_ms()
local due = redis.call('ZRANGE', KEYS[1], '-inf', now, 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[4]))
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[1], id)
  local task = read_task(id)
  if task and task.status == 'pending' then
    set_fields(task, { runAfter = false })
    enqueue(task)
  end
end
return #due
