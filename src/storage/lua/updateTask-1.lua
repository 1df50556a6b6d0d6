--[[ updateTask: change a task's fields in one step; a priority change re-orders a waiting task.
KEYS[1]  K.task(<id>)
ARGV[4]  task id
ARGV[5..] changes as pairs: field, value. Fields: text, priority, description, channel, maxAttempts,
          status, 'm:<key>' (one metadata entry, value JSON). An empty value removes description,
          channel or a metadata entry. status may only go pending → cancelled or
          failed/cancelled → pending (as task.cancel / task.retry do); the same status is no change.
Returns {'OK', task}
        {'NOT_FOUND'}
        {'CONFLICT', status, wanted}     a status change that is not allowed
]]
local task = read_task(ARGV[4])
if not task then return { 'NOT_FOUND' } end
local changes, names, status = {}, {}, nil
for i = 5, #ARGV, 2 do
  local field, value = ARGV[i], ARGV[i + 1]
  names[#names + 1] = field
  if field == 'status' then
    status = value
  elseif value == '' then
    changes[field] = false
  else
    changes[field] = value
  end
end
if status and status ~= task.status then
  local allowed = (task.status == 'pending' and status == 'cancelled')
    or ((task.status == 'failed' or task.status == 'cancelled') and status == 'pending')
  if not allowed then return { 'CONFLICT', task.status, status } end
end

local now = now_ms()
local waiting = redis.call('ZSCORE', K.pending, task.id) ~= false
if waiting and (changes.priority ~= nil or changes.channel ~= nil) then
  -- leave the order under the old priority/channel and come back under the new ones
  redis.call('ZREM', K.pending, task.id)
  if task.channel then redis.call('ZREM', K.channel(task.channel), task.id) end
end
changes.updatedAt = now
set_fields(task, changes)
if waiting and (changes.priority ~= nil or changes.channel ~= nil) then enqueue(task) end

if status == 'cancelled' and task.status == 'pending' then
  cancel(task, '', now)
elseif status == 'pending' and task.status ~= 'pending' then
  requeue(task, now)
else
  emit('task.updated', task, { changed = names })
end
return { 'OK', encoded(task) }
