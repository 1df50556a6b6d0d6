--[[ claimBatchItems: share a batch's items out among the instances processing it. The first call
creates the batch; every call first returns items whose processor's lease expired (it died) to
the batch, then leases up to N items to the caller.
KEYS[1]  K.batch(<id>)   hash: total, done, status, createdAt
         (derived: ..':items' hash index → item JSON, ..':todo' list of indexes,
          ..':doing' zset index → lease expiry ms, ..':owner' hash index → processor)
ARGV[4]  batch id     ARGV[5]  processor id     ARGV[6]  how many items to take
ARGV[7]  lease ms     ARGV[8]  lifetime of the batch's keys, seconds
ARGV[9..] the batch's items as JSON (used only by the call that creates the batch)
Returns {status, done, total, index1, item1, index2, item2, ...}   status 'running' or 'completed'
]]
local b = KEYS[1]
local now = now_ms()
if redis.call('EXISTS', b) == 0 then
  local total = #ARGV - 8
  redis.call('HSET', b, 'total', total, 'done', 0, 'status', total == 0 and 'completed' or 'running', 'createdAt', now)
  for i = 9, #ARGV do
    redis.call('HSET', b .. ':items', i - 9, ARGV[i])
    redis.call('RPUSH', b .. ':todo', i - 9)
  end
  for _, k in ipairs({ b, b .. ':items', b .. ':todo' }) do redis.call('EXPIRE', k, ARGV[8]) end
end
local expired = redis.call('ZRANGE', b .. ':doing', '-inf', now, 'BYSCORE')
for _, index in ipairs(expired) do
  redis.call('ZREM', b .. ':doing', index)
  redis.call('LPUSH', b .. ':todo', index)
end
local summary = redis.call('HMGET', b, 'status', 'done', 'total')
local out = { summary[1], tonumber(summary[2]), tonumber(summary[3]) }
if out[1] ~= 'running' then return out end
local taken = redis.call('LPOP', b .. ':todo', tonumber(ARGV[6]))
if taken then
  for _, index in ipairs(taken) do
    redis.call('ZADD', b .. ':doing', now + tonumber(ARGV[7]), index)
    redis.call('HSET', b .. ':owner', index, ARGV[5])
    out[#out + 1] = index
    out[#out + 1] = redis.call('HGET', b .. ':items', index)
  end
  for _, k in ipairs({ b .. ':doing', b .. ':owner' }) do redis.call('EXPIRE', k, ARGV[8]) end
end
return out
