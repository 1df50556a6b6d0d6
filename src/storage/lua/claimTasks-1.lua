--[[ claimTasks: lease up to N of the best claimable tasks to a worker (priority, then FIFO).
KEYS[1]  base..'pending'  (or base..'pending:ch:<channel>' to take only that channel's tasks)
ARGV[4]  worker id        ARGV[5]  how many to claim (1..10)     ARGV[6]  lease ms
ARGV[7]  worker capacity: the most tasks it may hold at once (0 = no limit), or 'registered' for the
         maxTasks the worker registered with (0 / not registered = no limit)
ARGV[8]  worker capabilities, JSON array, or '' (then tasks that require capabilities are skipped)
ARGV[9]  scan limit: how many candidates to inspect when skipping tasks the worker cannot take
Returns {'OK', task, task, ...}   the claimed tasks (flat arrays, with leaseToken and leaseExpiresAt); none = empty
        {'AT_CAPACITY', held, capacity}   the worker already holds its capacity
]]
local worker, want, lease_ms = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local capacity = tonumber(ARGV[7])
if ARGV[7] == 'registered' then
  capacity = tonumber(redis.call('HGET', BASE .. 'inst:' .. worker, 'maxTasks') or '0') or 0
end
if capacity > 0 then
  local held = redis.call('SCARD', BASE .. 'w:' .. worker)
  if held >= capacity then return { 'AT_CAPACITY', held, capacity } end
  want = math.min(want, capacity - held)
end
local caps = capability_set(ARGV[8])

local now = now_ms()
local out = { 'OK' }
local claimed, skipped, scan_limit = 0, 0, tonumber(ARGV[9])
-- Claimed tasks leave the index, so the next candidates start right after the skipped ones.
while claimed < want and skipped < scan_limit do
  local ids = redis.call('ZRANGE', KEYS[1], skipped, skipped + (want - claimed) - 1)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    local task = read_task(id)
    if not task or task.status ~= 'pending' then
      redis.call('ZREM', KEYS[1], id) -- an index entry whose task is gone or not pending: heal the index
    elseif can_take(task, caps) then
      dequeue(task)
      grant_lease(task, worker, lease_ms, now)
      emit('task.claimed', task, { workerId = worker })
      out[#out + 1] = flat(task)
      claimed = claimed + 1
    else
      skipped = skipped + 1
    end
  end
end
return out
