--[[ deadLetterDelivery: park a delivery whose attempts are spent: acknowledge the stream entry in the
subscription's group and record it, with its error, among the subscription's dead letters, in one step
(never acknowledged without being recorded, never recorded while still pending).
KEYS[1]  the event stream
KEYS[2]  dead letters: zset stream id -> time parked (ms)
KEYS[3]  dead-letter records: hash stream id -> record JSON
ARGV[1]  group   ARGV[2]  consumer   ARGV[3]  stream id   ARGV[4]  record JSON
Returns {1, now}  parked
        {0}       the entry is no longer this consumer's (acknowledged or taken over): nothing changed
]]
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #pending == 0 or pending[1][2] ~= ARGV[2] then return { 0 } end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[2], now, ARGV[3])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
return { 1, now }
