--[[ autoAssign: push pending tasks to the live instances that asked for pushed work
(autoAssign at register): each task, best first, goes to the least-loaded instance that can
take it (capabilities) and has room (maxTasks); tasks nobody can take stay pending.
KEYS[1]  K.pending
ARGV[4]  most tasks to look at     ARGV[5]  lease ms     ARGV[6]  liveness cutoff ms (heartbeat older = not live)
ARGV[7]  leadership token ('' = no check)
Returns the number of tasks assigned, or -1 when refused for a stale leadership token
]]
if not is_leader(ARGV[7]) then return -1 end
local workers = {}
for _, id in ipairs(redis.call('SMEMBERS', K.autoAssign)) do
  local seen = redis.call('ZSCORE', K.instances, id)
  local info = redis.call('HMGET', K.instance(id), 'status', 'maxTasks', 'capabilities')
  if seen and tonumber(seen) >= tonumber(ARGV[6]) and info[1] == 'active' then
    local cap = tonumber(info[2]) or 0
    workers[#workers + 1] = {
      id = id, load = redis.call('SCARD', K.worker(id)), cap = cap > 0 and cap or math.huge,
      caps = capability_set(info[3]) or {},
    }
  end
end
if #workers == 0 then return 0 end
local now = now_ms()
local assigned = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[4]) - 1)) do
  local task = read_task(id)
  if task then
    local best = nil
    for _, w in ipairs(workers) do
      if w.load < w.cap and can_take(task, w.caps) and (best == nil or w.load < best.load) then best = w end
    end
    if best then
      dequeue(task)
      grant_lease(task, best.id, tonumber(ARGV[5]), now)
      emit('task.assigned', task, { workerId = best.id, auto = true })
      best.load = best.load + 1
      assigned = assigned + 1
    end
  end
end
return assigned
