--[[ reapLeases: tasks whose lease expired go back to pending after a backoff (attempts were
counted at claim), or to dead letters once their attempts are spent. Safe to run from several
processes at once: each expired lease is reaped exactly once. Also prunes members of K.workers
that hold no task (up to 100 at random per call).
KEYS[1]  K.leases
ARGV[4]  most tasks to reap in this call     ARGV[5]  backoff base ms     ARGV[6]  backoff cap ms
ARGV[7]  random seed (for the backoff jitter)
Returns {retried, deadLettered}
ARGV[8] leadership token '<owner>|<epoch>' (optional; when given and not current, nothing is done)
Returns { -1, -1 } when refused for a stale leadership token
]]
if not is_leader(ARGV[8] or '') then return { -1, -1 } end
math.randomseed(tonumber(ARGV[7]))
local now = now_ms()
local expired = redis.call('ZRANGE', KEYS[1], '-inf', now, 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[4]))
local retried, dead = 0, 0
for _, id in ipairs(expired) do
  local task = read_task(id)
  if not task or task.status ~= 'in_progress' then
    redis.call('ZREM', KEYS[1], id) -- a stale index entry
  else
    emit('task.lease_expired', task, { workerId = task.assignedTo })
    if retry_or_bury(task, 'lease expired', tonumber(ARGV[5]), tonumber(ARGV[6]), now, false) == 'dead' then
      dead = dead + 1
    else
      retried = retried + 1
    end
  end
end
local workers = K.workers
for _, worker in ipairs(redis.call('SRANDMEMBER', workers, 100)) do
  if redis.call('EXISTS', K.worker(worker)) == 0 then redis.call('SREM', workers, worker) end
end
return { retried, dead }
