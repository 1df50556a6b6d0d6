--[[ claimTasks: lease up to N of the best claimable tasks to a worker (priority, then FIFO).
KEYS[1]  K.pending  (or K.channel(<channel>) to take only that channel's tasks)
ARGV[4]  worker id        ARGV[5]  how many to claim (1..10)     ARGV[6]  lease ms
ARGV[7]  worker capacity: the most tasks it may hold at once (0 = no limit), or 'registered' for the
         maxTasks the worker registered with (0 / not registered = no limit)
ARGV[8]  worker capabilities, JSON array, or '' (then tasks that require capabilities are skipped)
ARGV[9]  scan limit: how many candidates to inspect when skipping tasks the worker cannot take
Returns {'OK', task, task, ...}   the claimed tasks (JSON objects, with leaseToken and leaseExpiresAt); none = empty
        {'AT_CAPACITY', held, capacity}   the worker already holds its capacity
]]
return claim_tasks(KEYS[1], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7], ARGV[8], tonumber(ARGV[9]))
