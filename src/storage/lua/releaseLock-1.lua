--[[ releaseLock: give a lock up, only if the caller holds it.
KEYS[1]  the lock key
ARGV[1]  owner id
Returns 1 released, 0 not held by the caller
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
