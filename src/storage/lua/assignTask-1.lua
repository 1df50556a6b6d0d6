--[[ assignTask: push one pending task to a named worker (instance), leasing it to that worker.
KEYS[1]  K.task(<id>)   the task
ARGV[4]  task id          ARGV[5]  worker id          ARGV[6]  lease ms
ARGV[7]  worker capacity (0 = no limit), or 'registered' for the maxTasks it registered with
Returns {'OK', task}                  assigned (task with leaseToken, leaseExpiresAt)
        {'NOT_FOUND'}
        {'CONFLICT', status}          the task is not pending (or is delayed and not yet due)
        {'AT_CAPACITY', held, capacity}       the worker already holds its capacity
]]
local task = read_task(ARGV[4])
if not task then return { 'NOT_FOUND' } end
if task.status ~= 'pending' or redis.call('ZSCORE', K.pending, task.id) == false then
  return { 'CONFLICT', task.status }
end
local worker, capacity = ARGV[5], tonumber(ARGV[7])
if ARGV[7] == 'registered' then
  capacity = tonumber(redis.call('HGET', K.instance(worker), 'maxTasks') or '0') or 0
end
if capacity > 0 then
  local held = redis.call('SCARD', K.worker(worker))
  if held >= capacity then return { 'AT_CAPACITY', held, capacity } end
end
local now = now_ms()
dequeue(task)
grant_lease(task, worker, tonumber(ARGV[6]), now)
emit('task.assigned', task, { workerId = worker })
return { 'OK', encoded(task) }
