--[[ breakerRecord: add a batch of call outcomes to a closed breaker's window and open it
when the failure ratio is reached. Outcomes arriving while the breaker is open or half-open
are ignored: then only probes decide (breakerProbe, breakerSettle).
The window is `buckets` buckets of window/buckets ms: fields c<i> (calls), f<i> (failures)
and t<i> (the bucket's number, floor(now / bucketMs)); a bucket older than the window counts
for nothing and is reset when its slot is reused.
KEYS[1]  the breaker hash (fields: state, openUntil, probes, probeUntil, c<i>, f<i>, t<i>)
ARGV[1]  now (ms)          ARGV[2]  calls to add     ARGV[3]  of which failures
ARGV[4]  window (ms)       ARGV[5]  buckets          ARGV[6]  minimum calls to open
ARGV[7]  failure ratio     ARGV[8]  open time (ms)   ARGV[9]  pub/sub channel
ARGV[10] method name       ARGV[11] key lifetime (ms) after the last write
Returns {state, openUntil, changed, calls, failures}: the state after the batch ('closed' or
        'open', or 'half_open' when it was so already), when an open breaker lets probes
        through, 1 when this batch opened it (announced on the channel), and the window's
        totals
]]
local now = tonumber(ARGV[1])
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if state ~= 'closed' then
  return {state, tonumber(redis.call('HGET', KEYS[1], 'openUntil') or '0'), 0, 0, 0}
end
local buckets = tonumber(ARGV[5])
local bucketMs = tonumber(ARGV[4]) / buckets
local current = math.floor(now / bucketMs)
local slot = current % buckets
local fields = {}
for i = 0, buckets - 1 do
  fields[#fields + 1] = 'c' .. i
  fields[#fields + 1] = 'f' .. i
  fields[#fields + 1] = 't' .. i
end
local values = redis.call('HMGET', KEYS[1], unpack(fields))
local calls, failures = 0, 0
for i = 0, buckets - 1 do
  local c = tonumber(values[i * 3 + 1] or '0')
  local f = tonumber(values[i * 3 + 2] or '0')
  local t = tonumber(values[i * 3 + 3] or '-1')
  if i == slot then
    if t ~= current then c, f = 0, 0 end
    c = c + tonumber(ARGV[2])
    f = f + tonumber(ARGV[3])
    redis.call('HSET', KEYS[1], 'c' .. i, c, 'f' .. i, f, 't' .. i, current)
  elseif t <= current - buckets then
    c, f = 0, 0
  end
  calls = calls + c
  failures = failures + f
end
local ttl = tonumber(ARGV[11])
if failures > 0 and calls >= tonumber(ARGV[6]) and failures / calls >= tonumber(ARGV[7]) then
  local openUntil = now + tonumber(ARGV[8])
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'state', 'open', 'openUntil', openUntil)
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PUBLISH', ARGV[9], cjson.encode({method = ARGV[10], state = 'open', openUntil = openUntil}))
  return {'open', openUntil, 1, calls, failures}
end
redis.call('PEXPIRE', KEYS[1], ttl)
return {'closed', 0, 0, calls, failures}
