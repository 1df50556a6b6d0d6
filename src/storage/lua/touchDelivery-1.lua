--[[ touchDelivery: reset the idle time of a pending delivery this consumer still owns, so that other
servers do not take it over (XAUTOCLAIM after the idle time) while it waits for its next attempt.
KEYS[1]  the event stream
ARGV[1]  group   ARGV[2]  consumer   ARGV[3]  stream id
Returns 1  touched: the entry is pending and owned by the consumer
        0  not ours (acknowledged, or taken over by another consumer): give it up
]]
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #pending == 0 or pending[1][2] ~= ARGV[2] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
