--[[ createTask: a new pending (or delayed) task, with its created event.
KEYS[1]  K.seq   the id counter
ARGV[4]  text            ARGV[5]  priority 0..100     ARGV[6]  description or ''
ARGV[7]  channel or ''   ARGV[8]  maxAttempts
ARGV[9] delay ms (0 = claimable now)                 ARGV[10] ttl ms (0 = never expires)
ARGV[11] idempotency key or ''                        ARGV[12] idempotency key lifetime, seconds
ARGV[13] queue limit: refuse when pending + delayed >= it (0 = no limit)
ARGV[14] required capabilities, JSON array, or ''
ARGV[15..] metadata as pairs: key, JSON value (stored as hash fields 'm:<key>', merged field by field)
Returns {'OK', task}             created (the task hash as a JSON object)
        {'DUPLICATE', task}      the idempotency key was used before: that task, nothing created
        {'QUEUE_FULL', count}    nothing created
]]
local idem = ARGV[11]
if idem ~= '' then
  local existing = redis.call('GET', K.idempotency(idem))
  if existing then
    local task = read_task(existing)
    if task then return { 'DUPLICATE', encoded(task) } end
  end
end
local limit = tonumber(ARGV[13])
if limit > 0 then
  local queued = redis.call('ZCARD', K.pending) + redis.call('ZCARD', K.delayed)
  if queued >= limit then return { 'QUEUE_FULL', queued } end
end

local now = as_text(now_ms())
local seq = as_text(redis.call('INCR', KEYS[1]))
local id = 't-' .. seq
-- Built whole rather than field by field (set_fields): the table is made at its size, and the
-- hash is written in one HSET of all the fields.
local task = {
  id = id, seq = seq, status = 'pending', text = ARGV[4], priority = ARGV[5], maxAttempts = ARGV[8],
  attempts = '0', createdAt = now, updatedAt = now,
}
if ARGV[6] ~= '' then task.description = ARGV[6] end
if ARGV[7] ~= '' then task.channel = ARGV[7] end
if ARGV[14] ~= '' then task.requires = ARGV[14] end
if idem ~= '' then task.idempotencyKey = idem end
for i = 15, #ARGV, 2 do task['m:' .. ARGV[i]] = ARGV[i + 1] end
local delay, ttl = tonumber(ARGV[9]), tonumber(ARGV[10])
if ttl > 0 then task.expiresAt = as_text(now + ttl) end
if delay > 0 then task.runAfter = as_text(now + delay) end
local fields = {}
for k, v in pairs(task) do
  fields[#fields + 1] = k
  fields[#fields + 1] = v
end
redis.call('HSET', K.task(id), unpack(fields))

redis.call('ZADD', K.all, seq, id)
redis.call('ZADD', K.status('pending'), seq, id)
if delay > 0 then
  redis.call('ZADD', K.delayed, task.runAfter, id)
else
  enqueue(task)
end
if ttl > 0 then redis.call('ZADD', K.ttl, task.expiresAt, id) end
if idem ~= '' then redis.call('SET', K.idempotency(idem), id, 'EX', ARGV[12]) end
emit('task.created', task)
return { 'OK', encoded(task) }
