--[[ heartbeatInstance: a live instance says it is still there.
KEYS[1]  K.instance(<id>)
ARGV[4]  instance id     ARGV[5]  status text or ''     ARGV[6]  load JSON or ''
Returns 1  alive: last heartbeat updated
        0  unknown, failed or unregistered: the instance must register again
]]
if redis.call('HGET', KEYS[1], 'status') ~= 'active' then return 0 end
local now = now_ms()
local fields = { 'lastSeen', now }
if ARGV[5] ~= '' then fields[#fields + 1] = 'statusText'; fields[#fields + 1] = ARGV[5] end
if ARGV[6] ~= '' then fields[#fields + 1] = 'load'; fields[#fields + 1] = ARGV[6] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('ZADD', K.instances, now, ARGV[4])
return 1
