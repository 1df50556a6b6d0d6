--[[ completeBatchItems: a processor reports items done. Only items it still holds count, each
once; when the last item is done the batch is completed, batch.completed is emitted once and
its working keys are dropped (the summary hash and ..':by', index → the processor that
completed it, stay until they expire).
KEYS[1]  K.batch(<id>)
ARGV[4]  batch id     ARGV[5]  processor id     ARGV[6..] item indexes
Returns {counted, done, total, completedNow 0|1}
]]
local b = KEYS[1]
if redis.call('EXISTS', b) == 0 then return { 0, 0, 0, 0 } end
local counted = 0
for i = 6, #ARGV do
  local index = ARGV[i]
  if redis.call('HGET', b .. ':owner', index) == ARGV[5] and redis.call('ZREM', b .. ':doing', index) == 1 then
    redis.call('HDEL', b .. ':owner', index)
    redis.call('HSET', b .. ':by', index, ARGV[5])
    counted = counted + 1
  end
end
if counted > 0 then redis.call('EXPIRE', b .. ':by', redis.call('TTL', b)) end
local done = redis.call('HINCRBY', b, 'done', counted)
local total = tonumber(redis.call('HGET', b, 'total'))
local completed_now = 0
if done >= total and redis.call('HGET', b, 'status') == 'running' then
  redis.call('HSET', b, 'status', 'completed', 'completedAt', now_ms())
  redis.call('DEL', b .. ':items', b .. ':todo', b .. ':doing', b .. ':owner')
  emit_event('batch.completed', { batchId = ARGV[4], total = total })
  completed_now = 1
end
return { counted, done, total, completed_now }
