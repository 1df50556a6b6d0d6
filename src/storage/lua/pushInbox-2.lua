--[[ pushInbox: append a message to a session's inbox, at most once per dedupe key.
KEYS[1]  the inbox: list of message JSON, oldest first
KEYS[2]  the dedupe marker of this message (used only when ARGV[4] = '1')
ARGV[1]  message JSON   ARGV[2]  most messages kept (older ones are dropped)
ARGV[3]  time to live of the inbox and of the marker, ms   ARGV[4]  '1' to deduplicate, '0' not
Returns {1, length}  appended; the inbox now holds `length` messages
        {0}          a message with this dedupe key was appended before: nothing changed
]]
if ARGV[4] == '1' then
  if not redis.call('SET', KEYS[2], '1', 'PX', ARGV[3], 'NX') then return { 0 } end
end
local length = redis.call('RPUSH', KEYS[1], ARGV[1])
local max = tonumber(ARGV[2])
if length > max then
  redis.call('LTRIM', KEYS[1], length - max, -1)
  length = max
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return { 1, length }
