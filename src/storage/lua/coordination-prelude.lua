--[[ coordination-prelude: helpers shared by the coordination scripts (task queue, instances,
leadership, quorum, batches); each script is sent with the definitions of it that it uses.

Common ARGV (every coordination script):
  ARGV[1] base    key base, e.g. "cb:{tasks}:"; every key a script touches is built from it,
                  so all of them share one hash tag (one Redis Cluster slot)
  ARGV[2] source  id of the server process, written on each event
  ARGV[3] maxlen  approximate cap of the event stream (XADD MAXLEN ~)
Script-specific arguments start at ARGV[4].

Keys: K.<name> (one key, e.g. K.pending) and K.<name>(member) (one of a family, e.g. K.task(id)),
named, described and spelled in storage/coordination-keys.ts; the assembly writes each one out
from BASE (K.task(id) → (BASE .. 't:' .. (id)), storage/scripts.ts). K is not a Lua value: it
cannot be passed or indexed, only named. Scripts never spell a key themselves.
Invariant: a task id is in at most one of K.pending, K.delayed, K.leases, K.dead.
]]
local BASE, SOURCE, MAXLEN = ARGV[1], ARGV[2], ARGV[3]
local PRIORITY_SPAN = 1099511627776 -- 2^40
local SAMPLE_KEEP = 999 -- index of the last sample read for percentiles (stats reads 0..SAMPLE_KEEP)
local SAMPLE_SLACK = 100 -- a sample list is trimmed only when it grows this far past SAMPLE_KEEP + 1

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A number as text, for a hash field or a command argument. The numbers scripts store or send
-- are integers (ms, counts, tokens, seq, scores below 2^53), and '%d' formats one in a fraction of
-- the time tostring (or redis.call, which uses '%.17g') takes; anything else gets '%.17g', as
-- redis.call would give it. A transition uses the same `now` several times: each text is made
-- once per call.
local number_text = {}
local function as_text(v)
  if type(v) ~= 'number' then return v end
  local text = number_text[v]
  if not text then
    local exact_integer = v % 1 == 0 and v > -9007199254740992 and v < 9007199254740992
    text = string.format(exact_integer and '%d' or '%.17g', v)
    number_text[v] = text
  end
  return text
end

-- Field changes not yet written to each task's hash: task table → { field → string, or false to delete }.
-- set/unset record them and save writes them in one HSET and at most one HDEL, so a transition that
-- changes fields in several steps (move_status, grant_lease, finish, ...) still costs one write.
local unsaved = {}

local function read_task(id)
  local raw = redis.call('HGETALL', K.task(id))
  if #raw == 0 then return nil end
  local task = {}
  for i = 1, #raw, 2 do task[raw[i]] = raw[i + 1] end
  return task
end

local function order_score(task)
  return (100 - tonumber(task.priority)) * PRIORITY_SPAN + tonumber(task.seq)
end

-- Appends an event whose payload is already JSON text.
local function append_event(event, payload_json)
  redis.call('XADD', K.events, 'MAXLEN', '~', MAXLEN, '*',
    'event', event, 'source', SOURCE, 'payload', payload_json)
end

local function emit_event(event, payload)
  append_event(event, cjson.encode(payload))
end

-- Each task table's JSON text as of its last event (dropped by set_fields), so that a script that
-- answers with the task it just emitted does not encode it a second time.
local json_of = {}

-- The task's field changes not yet saved, created on first use.
local function changes_of(task)
  json_of[task] = nil
  local changes = unsaved[task]
  if not changes then
    changes = {}
    unsaved[task] = changes
  end
  return changes
end

-- Sets one field (text or an integer) on the task table and records it for save(). The hot paths
-- call this per field rather than set_fields with a table: no table to build, walk and collect.
local function set(task, field, value)
  value = as_text(value)
  task[field] = value
  changes_of(task)[field] = value
end

-- Deletes a field and records that for save(), only when the task has it (deleting an absent field
-- costs a call and changes nothing).
local function unset(task, field)
  if task[field] == nil then return end
  task[field] = nil
  changes_of(task)[field] = false
end

-- set() for each field of a table; a false value unsets the field.
local function set_fields(task, fields)
  for k, v in pairs(fields) do
    if v == false then unset(task, k) else set(task, k, v) end
  end
end

-- Writes the task's recorded field changes to its hash: one HSET, at most one HDEL.
local function save(task)
  local changes = unsaved[task]
  if not changes then return end
  unsaved[task] = nil
  local hset, hdel = {}, {}
  for k, v in pairs(changes) do
    if v == false then
      hdel[#hdel + 1] = k
    else
      hset[#hset + 1] = k
      hset[#hset + 1] = v
    end
  end
  if #hset > 0 then redis.call('HSET', K.task(task.id), unpack(hset)) end
  if #hdel > 0 then redis.call('HDEL', K.task(task.id), unpack(hdel)) end
end

-- A task event: the task's changes are saved first, and the payload carries its full state (the
-- outbox for persistence), so the hash and the event agree. Every transition of a task ends with
-- one of these; the few scripts that change a task without an event (renewLease, promoteDelayed)
-- call save() themselves. The payload { task = ..., <extra fields> } is put together from the
-- task's JSON and the extra fields' JSON, so the task's text is kept for the answer (`encoded`).
local function emit(event, task, extra)
  save(task)
  local task_json = cjson.encode(task)
  json_of[task] = task_json
  local rest = '}'
  if extra and next(extra) ~= nil then rest = ',' .. string.sub(cjson.encode(extra), 2) end
  append_event(event, '{"task":' .. task_json .. rest)
end

-- Prepends a sample (ms) to a statistics list. The list is cut back to SAMPLE_KEEP + 1 entries only
-- when it has grown SAMPLE_SLACK past that, which spares an LTRIM on almost every call; readers
-- take the first SAMPLE_KEEP + 1, so they see the same samples.
local function add_sample(key, ms)
  if redis.call('LPUSH', key, as_text(ms)) > SAMPLE_KEEP + 1 + SAMPLE_SLACK then
    redis.call('LTRIM', key, 0, SAMPLE_KEEP)
  end
end

local function move_status(task, to, now)
  if task.status ~= to then
    redis.call('ZREM', K.status(task.status), task.id)
    redis.call('ZADD', K.status(to), task.seq, task.id)
  end
  set(task, 'status', to)
  set(task, 'updatedAt', now)
end

local function enqueue(task)
  local score = as_text(order_score(task))
  redis.call('ZADD', K.pending, score, task.id)
  if task.channel then redis.call('ZADD', K.channel(task.channel), score, task.id) end
end

-- Removes the task from the waiting structures its fields say it is in. Only a pending task waits:
-- in the delayed set when it has runAfter (delay, retry backoff; promoteDelayed clears it), else in
-- the claimable order (and its channel's); in the expiry set when it has expiresAt. Stale entries
-- that break this rule cannot be created by the scripts, and would be dropped by the claim,
-- promoteDelayed and expireTasks, which skip entries whose task is not pending. `popped_from`: an
-- index the caller already took the task out of (ZPOPMIN), or nil.
local function dequeue(task, popped_from)
  if task.status ~= 'pending' then return end
  if task.runAfter then
    redis.call('ZREM', K.delayed, task.id)
  else
    local order = K.pending
    if popped_from ~= order then redis.call('ZREM', order, task.id) end
    if task.channel then
      local channel_order = K.channel(task.channel)
      if popped_from ~= channel_order then redis.call('ZREM', channel_order, task.id) end
    end
  end
  if task.expiresAt then redis.call('ZREM', K.ttl, task.id) end
end

-- Removes the task's lease and its place in its worker's active set. Only an in-progress task has
-- one. The worker stays in K.workers (see storage/coordination-keys.ts).
local function drop_lease(task)
  if task.status ~= 'in_progress' then return end
  redis.call('ZREM', K.leases, task.id)
  if task.assignedTo then redis.call('SREM', K.worker(task.assignedTo), task.id) end
  unset(task, 'leaseToken')
  unset(task, 'leaseExpiresAt')
end

-- Grants a lease on a pending task to a worker (the task is already out of the waiting structures).
local function grant_lease(task, worker, lease_ms, now)
  local token = redis.call('INCR', K.fence)
  local expires = as_text(now + lease_ms)
  redis.call('ZADD', K.leases, expires, task.id)
  redis.call('SADD', K.worker(worker), task.id)
  redis.call('SADD', K.workers, worker)
  add_sample(K.statWait, now - tonumber(task.createdAt))
  move_status(task, 'in_progress', now)
  set(task, 'assignedTo', worker)
  set(task, 'claimedAt', now)
  set(task, 'leaseToken', token)
  set(task, 'leaseExpiresAt', expires)
  set(task, 'attempts', tonumber(task.attempts) + 1)
end

-- Capabilities JSON array (or '') → set, or nil when the worker declared none.
local function capability_set(json)
  if json == nil or json == '' then return nil end
  local caps = {}
  for _, c in ipairs(cjson.decode(json)) do caps[c] = true end
  return caps
end

-- May a worker with these capabilities take this task? A `requires` that is not a JSON array
-- (only a damaged hash has one) makes the task one nobody may take, rather than an error: the
-- claim has already popped its candidates, and an error would leave them in no index.
local function can_take(task, caps)
  if not task.requires then return true end
  if not caps then return false end
  local ok, needs = pcall(cjson.decode, task.requires)
  if not ok or type(needs) ~= 'table' then return false end
  for _, need in ipairs(needs) do
    if not caps[need] then return false end
  end
  return true
end

-- Is `worker` (with `token`, '' when not given) the current lease holder? Returns nil or an error code.
local function check_holder(task, worker, token)
  if task.status ~= 'in_progress' then return 'LEASE_LOST' end
  if token ~= '' and token ~= task.leaseToken then return 'LEASE_LOST' end
  if worker ~= '' and worker ~= task.assignedTo then return 'LEASE_LOST' end
  return nil
end

-- Ends a task for good (completed, failed or cancelled).
-- The minute of a time in ms, for the per-minute counters.
local function minute_of(ms) return math.floor(ms / 60000) end

-- Counts one more in a per-minute counter (K.completionsInMinute, K.failuresInMinute); it lives
-- two hours from the minute's first count (system.activity reads the last hour).
local function count_in_minute(key)
  if redis.call('INCR', key) == 1 then redis.call('EXPIRE', key, 7200) end
end

local function finish(task, status, now)
  dequeue(task)
  drop_lease(task)
  move_status(task, status, now)
  redis.call('ZADD', K.finished, as_text(now), task.id)
  if status == 'failed' then count_in_minute(K.failuresInMinute(minute_of(now))) end
end

-- A task as a script's answer: its hash as one JSON object. One bulk string costs Redis and the
-- client less to send and read than a field/value array of ~30 (docs/performance.md, "Task engine").
local function encoded(task)
  return json_of[task] or cjson.encode(task)
end

-- Completes a task whose holder the caller has checked: finished, the result stored, the run time
-- and per-minute statistics, the completed event.
local function complete_task(task, result, now)
  local run_ms = now - tonumber(task.claimedAt)
  local worker = task.assignedTo
  finish(task, 'completed', now)
  set(task, 'completedAt', now)
  unset(task, 'error')
  if result ~= '' then set(task, 'result', result) end
  add_sample(K.statRun, run_ms)
  count_in_minute(K.completionsInMinute(minute_of(now)))
  emit('task.completed', task, { workerId = worker, runMs = run_ms })
end

-- Leases up to `want` of the best claimable tasks of `index` (K.pending, or a channel's) to a
-- worker, priority first then FIFO; `capacity` and `caps_json` as claimTasks' ARGV[7] and ARGV[8].
-- `now` may be nil (read after the capacity check). Returns {'OK', task, ...} or
-- {'AT_CAPACITY', held, capacity}.
local function claim_tasks(index, worker, want, lease_ms, capacity_arg, caps_json, scan_limit, now)
  local capacity = tonumber(capacity_arg)
  if capacity_arg == 'registered' then
    capacity = tonumber(redis.call('HGET', K.instance(worker), 'maxTasks') or '0') or 0
  end
  if capacity > 0 then
    local held = redis.call('SCARD', K.worker(worker))
    if held >= capacity then return { 'AT_CAPACITY', held, capacity } end
    want = math.min(want, capacity - held)
  end
  local caps = capability_set(caps_json)
  now = now or now_ms()
  local out = { 'OK' }
  local claimed, skipped = 0, 0
  -- Candidates are popped from the index (one call instead of a ZRANGE and a ZREM per claim);
  -- those the worker cannot take go back at the end with their scores, so their order is kept.
  -- An entry whose task is gone or not pending is not put back: that heals the index.
  local put_back = {}
  while claimed < want and skipped < scan_limit do
    local popped = redis.call('ZPOPMIN', index, want - claimed)
    if #popped == 0 then break end
    for i = 1, #popped, 2 do
      local id = popped[i]
      local task = read_task(id)
      if task and task.status == 'pending' then
        if can_take(task, caps) then
          dequeue(task, index)
          grant_lease(task, worker, lease_ms, now)
          emit('task.claimed', task, { workerId = worker })
          out[#out + 1] = encoded(task)
          claimed = claimed + 1
        else
          put_back[#put_back + 1] = popped[i + 1]
          put_back[#put_back + 1] = id
          skipped = skipped + 1
        end
      end
    end
  end
  for i = 1, #put_back, 1000 do -- in chunks: unpack has a limit
    redis.call('ZADD', index, unpack(put_back, i, math.min(i + 999, #put_back)))
  end
  return out
end

-- Retry with exponential backoff (base * 2^(attempts-1), capped, then ±20 % jitter so that tasks
-- failing together do not return together), or dead-letter when the attempts are spent or
-- `bury` says the failure is final. The caller seeds math.random (scripts cannot use a clock).
local function retry_or_bury(task, reason, backoff_base, backoff_max, now, bury)
  local attempts = tonumber(task.attempts)
  if bury or attempts >= tonumber(task.maxAttempts) then
    finish(task, 'failed', now)
    set_fields(task, { error = reason, deadLettered = 1 })
    redis.call('ZADD', K.dead, as_text(now), task.id)
    emit('task.dead_lettered', task, { reason = reason })
    return 'dead'
  end
  drop_lease(task)
  local delay = math.min(backoff_base * (2 ^ (attempts - 1)), backoff_max) * (0.8 + 0.4 * math.random())
  local due = now + math.floor(delay)
  move_status(task, 'pending', now)
  -- a ttl limits the wait before a task is started: a started task that is retried never expires
  -- (an in-progress task is not in the expiry set: the claim took it out)
  set_fields(task, { error = reason, assignedTo = false, claimedAt = false, runAfter = due, expiresAt = false })
  redis.call('ZADD', K.delayed, as_text(due), task.id)
  emit('task.retrying', task, { reason = reason, retryAt = due })
  return 'retry'
end

-- Cancels a pending or in-progress task (soft delete).
local function cancel(task, reason, now)
  local previous = task.assignedTo
  finish(task, 'cancelled', now)
  local fields = { completedAt = now }
  if reason ~= '' then fields.error = reason end
  set_fields(task, fields)
  emit('task.cancelled', task, { previousAssignment = previous })
end

-- A failed or cancelled task back to pending with fresh attempts, at its original place.
local function requeue(task, now)
  if task.deadLettered then redis.call('ZREM', K.dead, task.id) end
  redis.call('ZREM', K.finished, task.id)
  move_status(task, 'pending', now)
  set_fields(task, {
    attempts = 0, error = false, deadLettered = false, completedAt = false, assignedTo = false,
    claimedAt = false, runAfter = false, expiresAt = false, result = false,
  })
  enqueue(task)
  emit('task.retried', task)
end

-- Is `token` ('<owner>|<epoch>') the current leadership? Leader-only duties pass it; '' skips the check.
local function is_leader(token)
  if token == '' then return true end
  return redis.call('GET', K.leader) == token
end

-- Every task a worker holds goes back to pending at once, at its original place. When
-- `count_attempt` the claim's attempt stays counted and a task whose attempts are spent goes
-- to the dead letters; otherwise (a voluntary release) the attempt is given back.
local function release_worker(worker, reason, count_attempt, now)
  local ids = redis.call('SMEMBERS', K.worker(worker))
  local released, dead = 0, 0
  for _, id in ipairs(ids) do
    local task = read_task(id)
    if task and task.status == 'in_progress' and task.assignedTo == worker then
      if count_attempt and tonumber(task.attempts) >= tonumber(task.maxAttempts) then
        retry_or_bury(task, reason, 0, 0, now, true)
        dead = dead + 1
      else
        drop_lease(task)
        move_status(task, 'pending', now)
        local attempts = tonumber(task.attempts)
        if not count_attempt then attempts = math.max(0, attempts - 1) end
        set_fields(task, { assignedTo = false, claimedAt = false, attempts = attempts, error = reason })
        enqueue(task)
        emit('task.unassigned', task, { previousAssignment = worker, reason = reason })
        released = released + 1
      end
    else
      redis.call('SREM', K.worker(worker), id) -- stale membership
    end
  end
  redis.call('SREM', K.workers, worker)
  return released, dead
end
