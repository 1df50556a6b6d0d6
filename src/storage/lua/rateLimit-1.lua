--[[ rateLimit: admit one call into a sliding window, kept as an exact log of admitted calls,
so that no burst gets past the limit at a window's edge (the original's fixed windows let
twice the limit through there).
KEYS[1]  zset of one actor's admitted calls of one method, score = admission time (ms)
ARGV[1]  now (ms)   ARGV[2]  window (ms)   ARGV[3]  limit (>= 1)
ARGV[4]  a member unique to this call
Returns {1, remaining}            admitted; calls left in the window after this one
        {0, 0, retryAfterMs}      refused; ms until the window has room again
]]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, limit - count - 1}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, 0, math.max(0, tonumber(oldest[2]) + window - now)}
