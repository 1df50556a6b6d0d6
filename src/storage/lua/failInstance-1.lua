--[[ failInstance: the leader declares an instance dead because its heartbeat is older than the
cutoff; everything it held returns to pending at once (attempts stay counted; spent ones go to
the dead letters), and instance.failed is emitted exactly once.
KEYS[1]  K.instance(<id>)
ARGV[4]  instance id     ARGV[5]  cutoff ms (heartbeat older than this = dead, unless the instance has
         its own longer timeoutMs, then now - timeoutMs is its cutoff)
ARGV[6]  leadership token '<owner>|<epoch>' ('' = no leader check)
Returns {'FAILED', released, deadLettered}
        {'ALIVE'}          it heartbeated since (or is not active): nothing done
        {'STALE_EPOCH'}    the caller is not the current leader: refused
]]
if not is_leader(ARGV[6]) then return { 'STALE_EPOCH' } end
local id = ARGV[4]
local seen = redis.call('ZSCORE', K.instances, id)
local record = redis.call('HMGET', KEYS[1], 'status', 'timeoutMs')
if record[1] ~= 'active' then
  redis.call('ZREM', K.instances, id)
  return { 'ALIVE' }
end
local now = now_ms()
local cutoff = tonumber(ARGV[5])
local own = tonumber(record[2] or '')
if own then cutoff = math.min(cutoff, now - own) end
if seen and tonumber(seen) >= cutoff then return { 'ALIVE' } end
local released, dead = release_worker(id, 'instance failed', true, now)
redis.call('HSET', KEYS[1], 'status', 'failed', 'failedAt', now)
redis.call('EXPIRE', KEYS[1], 3600)
redis.call('ZREM', K.instances, id)
redis.call('SREM', K.autoAssign, id)
emit_event('instance.failed', { instanceId = id, lastSeen = seen, releasedTasks = released, deadLettered = dead })
return { 'FAILED', released, dead }
