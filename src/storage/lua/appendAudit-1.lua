--[[ appendAudit: append a batch of audit records to the capped audit stream in one call,
one stream entry per record (the same entries a separate XADD each would write), so that a
flush costs the server one command instead of one per record.
KEYS[1]  the audit stream
ARGV[1]  approximate cap of the stream (XADD MAXLEN ~)
ARGV[2..] the records, each as: n, then its n field/value strings
Returns the number of entries appended
]]
local i, appended = 2, 0
while i <= #ARGV do
  local count = tonumber(ARGV[i])
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, i + 1, i + count))
  i = i + 1 + count
  appended = appended + 1
end
return appended
