--[[ acquireLeadership: become the leader when there is none, or extend our own term
(compare-and-extend). Every new term gets a new epoch from a counter that only grows.
KEYS[1]  K.leader
ARGV[4]  candidate id     ARGV[5]  term length ms
Returns {epoch, 1}           the caller leads (token = candidate..'|'..epoch) until now + term
        {epoch, 0, holder}   someone else leads (their epoch and id)
]]
local current = redis.call('GET', KEYS[1])
if current then
  local holder, epoch = string.match(current, '^(.*)|(%d+)$')
  if holder == ARGV[4] then
    redis.call('PEXPIRE', KEYS[1], ARGV[5])
    return { tonumber(epoch), 1 }
  end
  return { tonumber(epoch), 0, holder }
end
local epoch = redis.call('INCR', K.leaderEpoch)
redis.call('SET', KEYS[1], ARGV[4] .. '|' .. epoch, 'PX', ARGV[5])
emit_event('leader.elected', { leaderId = ARGV[4], epoch = epoch })
return { epoch, 1 }
