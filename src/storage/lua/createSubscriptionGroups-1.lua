--[[ createSubscriptionGroups: create a subscription's consumer groups on the event stream, all at
the same position (the stream's last entry), so every partition of a partitioned subscription starts
with the same event. Groups that exist already keep their position (a restart, another server).
KEYS[1]  the event stream (created empty when missing)
ARGV[1..] group names
Returns the number of groups created (0 when all existed)
]]
local created = 0
for i = 1, #ARGV do
  local ok = pcall(redis.call, 'XGROUP', 'CREATE', KEYS[1], ARGV[i], '$', 'MKSTREAM')
  if ok then created = created + 1 end
end
return created
