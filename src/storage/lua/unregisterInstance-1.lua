--[[ unregisterInstance: an instance leaves; what it holds goes back to pending at once (the
attempts given back: it let go on purpose). Its record stays an hour for inspection.
KEYS[1]  K.instance(<id>)
ARGV[4]  instance id
Returns {'OK', released}  |  {'NOT_FOUND'}
]]
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return { 'NOT_FOUND' } end
local now = now_ms()
local released = release_worker(ARGV[4], 'instance unregistered', false, now)
redis.call('HSET', KEYS[1], 'status', 'unregistered', 'lastSeen', now)
redis.call('EXPIRE', KEYS[1], 3600)
redis.call('ZREM', K.instances, ARGV[4])
redis.call('SREM', K.autoAssign, ARGV[4])
emit_event('instance.unregistered', { instanceId = ARGV[4], releasedTasks = released })
return { 'OK', released }
