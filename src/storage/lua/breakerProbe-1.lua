--[[ breakerProbe: ask an open or half-open breaker to let one call through as a probe. The
first ask after the open time turns it half-open; while half-open at most `probes` calls are
let through at once. A probe that never settles (its process died) frees its slot after the
probe time.
KEYS[1]  the breaker hash (see breakerRecord)
ARGV[1]  now (ms)   ARGV[2]  probes let through at once   ARGV[3]  probe time (ms)
ARGV[4]  pub/sub channel   ARGV[5]  method name   ARGV[6]  key lifetime (ms)
Returns {verdict, state, waitMs, changed}
        verdict 1  closed (meanwhile): run the call normally
                2  run the call as a probe and settle it with breakerSettle
                0  refused: still open, or every probe slot is taken; retry in waitMs
        changed 1  this call turned it half-open (announced on the channel)
]]
local now = tonumber(ARGV[1])
local h = redis.call('HMGET', KEYS[1], 'state', 'openUntil', 'probes', 'probeUntil')
local state = h[1] or 'closed'
if state == 'closed' then return {1, 'closed', 0, 0} end
local probeUntil = now + tonumber(ARGV[3])
if state == 'open' then
  local openUntil = tonumber(h[2] or '0')
  if now < openUntil then return {0, 'open', openUntil - now, 0} end
  redis.call('HSET', KEYS[1], 'state', 'half_open', 'probes', 1, 'probeUntil', probeUntil)
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[6]))
  redis.call('PUBLISH', ARGV[4], cjson.encode({method = ARGV[5], state = 'half_open', openUntil = 0}))
  return {2, 'half_open', 0, 1}
end
local probes = tonumber(h[3] or '0')
local oldProbeUntil = tonumber(h[4] or '0')
if now >= oldProbeUntil then probes = 0 end
if probes >= tonumber(ARGV[2]) then return {0, 'half_open', oldProbeUntil - now, 0} end
redis.call('HSET', KEYS[1], 'probes', probes + 1, 'probeUntil', probeUntil)
return {2, 'half_open', 0, 0}
