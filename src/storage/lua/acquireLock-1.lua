--[[ acquireLock: take a lock or extend it when the caller already holds it (compare-and-extend).
KEYS[1]  the lock key
ARGV[1]  owner id     ARGV[2]  time to live, ms
Returns 1  the caller holds the lock for ARGV[2] ms from now
        0  someone else holds it
]]
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if owner then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
