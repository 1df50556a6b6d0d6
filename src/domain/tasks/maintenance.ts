import type { Logger } from "../../core/logger.js";
import type { TaskQueue } from "./queue.js";

/**
 * Queue housekeeping, run by the leader: promote due delayed tasks, expire overdue pending
 * ones, reap expired leases and archive finished tasks past retention, repeated while a
 * batch came back full. The scripts check the leadership token, so a process that lost
 * leadership mid-way changes nothing.
 */
export async function maintainQueue(
  queue: TaskQueue,
  leaderToken: string,
  retentionMs: number,
  log: Logger,
  batch = 500,
): Promise<void> {
  for (;;) {
    const done = await queue.maintain(batch, Date.now() - retentionMs, leaderToken);
    if (done.retried + done.deadLettered + done.expired > 0) log.info(done, "queue maintenance");
    const full = [done.promoted, done.expired, done.retried + done.deadLettered, done.archived].some(
      (n) => n >= batch,
    );
    if (!full) return;
  }
}
