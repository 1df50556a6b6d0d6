--[[ registerInstance: an agent, worker or session announces itself (again): its record is
replaced, it is live from now on, and an instance.registered event says so.
KEYS[1]  K.instance(<id>)
ARGV[4]  instance id     ARGV[5]  roles JSON     ARGV[6]  capabilities JSON     ARGV[7]  maxTasks (0 = no limit)
ARGV[8]  metadata JSON   ARGV[9]  session id or ''     ARGV[10] autoAssign '1' or '0'
ARGV[11] its own heartbeat timeout ms, or '' for the cluster's (e.g. long for Claude Code sessions)
Returns {registeredAt ms, reregistered 0|1}
]]
local id = ARGV[4]
local now = now_ms()
local previous = redis.call('HMGET', KEYS[1], 'status', 'registeredAt')
local existed = previous[1]
local registered_at = now
if existed == 'active' then registered_at = tonumber(previous[2]) or now end
local instance = {
  id = id, roles = ARGV[5], capabilities = ARGV[6], maxTasks = ARGV[7], metadata = ARGV[8], status = 'active',
  registeredAt = tostring(registered_at), lastSeen = tostring(now), autoAssign = ARGV[10],
}
if ARGV[9] ~= '' then instance.sessionId = ARGV[9] end
if ARGV[11] and ARGV[11] ~= '' then instance.timeoutMs = ARGV[11] end
local fields = {}
for k, v in pairs(instance) do
  fields[#fields + 1] = k
  fields[#fields + 1] = v
end
-- the record is replaced as a whole; the new key has no expiry (an unregistered record's is gone)
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('ZADD', K.instances, now, id)
redis.call('ZADD', K.instancesAll, registered_at, id)
if ARGV[10] == '1' then redis.call('SADD', K.autoAssign, id) else redis.call('SREM', K.autoAssign, id) end
emit_event('instance.registered', { instance = instance, reregistered = existed == 'active' })
return { registered_at, existed == 'active' and 1 or 0 }
