--[[ breakerSettle: a probe's outcome decides a half-open breaker: success closes it (with an
empty window), failure opens it again for the open time. When it is no longer half-open
(another probe settled it first) nothing changes.
KEYS[1]  the breaker hash (see breakerRecord)
ARGV[1]  now (ms)   ARGV[2]  1 the probe succeeded, 0 it failed   ARGV[3]  open time (ms)
ARGV[4]  pub/sub channel   ARGV[5]  method name   ARGV[6]  key lifetime (ms)
Returns {state, openUntil, changed}: the state after, and 1 when this outcome changed it
        (announced on the channel)
]]
local h = redis.call('HMGET', KEYS[1], 'state', 'openUntil')
local state = h[1] or 'closed'
if state ~= 'half_open' then return {state, tonumber(h[2] or '0'), 0} end
local openUntil = 0
redis.call('DEL', KEYS[1])
if ARGV[2] == '1' then
  state = 'closed'
  redis.call('HSET', KEYS[1], 'state', 'closed')
else
  state = 'open'
  openUntil = tonumber(ARGV[1]) + tonumber(ARGV[3])
  redis.call('HSET', KEYS[1], 'state', 'open', 'openUntil', openUntil)
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[6]))
redis.call('PUBLISH', ARGV[4], cjson.encode({method = ARGV[5], state = state, openUntil = openUntil}))
return {state, openUntil, 1}
