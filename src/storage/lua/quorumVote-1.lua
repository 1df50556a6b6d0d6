--[[ quorumVote: one vote per voter on one decision (a re-vote replaces the voter's vote); the
first value to reach a majority becomes the decision, and quorum.decision.made is emitted once.
Each decision has its own keys, which expire.
KEYS[1]  K.quorum(<decision>)   hash voter → value   (K.quorumResult(<decision>) holds the outcome)
ARGV[4]  decision id     ARGV[5]  voter id     ARGV[6]  value
ARGV[7]  total voters (0 = the live instances: heartbeat newer than ARGV[8])     ARGV[8]  liveness cutoff ms
ARGV[9]  lifetime of the decision's keys, seconds
Returns {reached 0|1, decided value or '', votes for this value, votes cast, total, majority}
]]
local result_key = K.quorumResult(ARGV[4])
redis.call('HSET', KEYS[1], ARGV[5], ARGV[6])
redis.call('EXPIRE', KEYS[1], ARGV[9])
local total = tonumber(ARGV[7])
if total == 0 then total = redis.call('ZCOUNT', K.instances, ARGV[8], '+inf') end
local majority = math.floor(total / 2) + 1
local values = redis.call('HVALS', KEYS[1])
local same = 0
for _, v in ipairs(values) do if v == ARGV[6] then same = same + 1 end end
local decided = redis.call('GET', result_key)
if not decided and same >= majority then
  decided = ARGV[6]
  redis.call('SET', result_key, decided, 'EX', ARGV[9])
  emit_event('quorum.decision.made', { decision = ARGV[4], value = decided, votes = same, total = total })
end
return { decided and 1 or 0, decided or '', same, #values, total, majority }
