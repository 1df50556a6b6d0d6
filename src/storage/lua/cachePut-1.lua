--[[ cachePut: store one cached result of a read-only method. The hash lives for the TTL
after its last write; each entry also carries its own expiry, checked on read. A hash that
reached its size bound is emptied first, so that a method called with many different
inputs cannot grow it without limit.
KEYS[1]  the method's cache hash
ARGV[1]  input digest   ARGV[2]  '<expiresAt ms>|<result JSON>'   ARGV[3]  TTL (ms)
ARGV[4]  most entries kept
Returns 1
]]
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then redis.call('DEL', KEYS[1]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
