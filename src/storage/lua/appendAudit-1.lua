--[[ appendAudit: append a batch of audit records to the capped audit stream in one call,
one stream entry per record (the same entries a separate XADD each would write), so that a
flush costs the server one command instead of one per record.
KEYS[1]  the audit stream
ARGV[1]  approximate cap of the stream (XADD MAXLEN ~)
ARGV[2..] the records, each as JSON; each becomes an entry with the one field `r`
Returns the number of entries appended
]]
for i = 2, #ARGV do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'r', ARGV[i])
end
return #ARGV - 1
