import type { Logger } from "../../core/logger.js";
import type { OwnedLock } from "../../storage/lock.js";
import type { TaskQueue } from "./queue.js";

/**
 * Queue housekeeping: promote due delayed tasks, expire overdue pending ones, reap expired
 * leases and archive finished tasks past retention. Every server process runs this loop, but
 * a lock lets one of them work at a time (the scripts are safe if two did: each moves a task
 * only from the state it expects).
 */
export class QueueMaintenance {
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<unknown> | null = null;

  constructor(
    private readonly queue: TaskQueue,
    private readonly lock: OwnedLock,
    private readonly intervalMs: number,
    private readonly retentionMs: number,
    private readonly log: Logger,
    private readonly batch = 500,
  ) {}

  start(): void {
    const loop = () => {
      this.#running = this.tick()
        .catch((err) => this.log.warn({ err }, "queue maintenance failed; retrying next interval"))
        .finally(() => {
          if (this.#timer) this.#timer = setTimeout(loop, this.intervalMs);
        });
    };
    this.#timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running;
    await this.lock.release().catch(() => false);
  }

  /** One pass (repeated while a batch came back full). False when another process holds the lock. */
  async tick(): Promise<boolean> {
    if (!(await this.lock.acquire(this.intervalMs * 3))) return false;
    for (;;) {
      const done = await this.queue.maintain(this.batch, Date.now() - this.retentionMs);
      if (done.retried + done.deadLettered + done.expired > 0) this.log.info(done, "queue maintenance");
      const full = [done.promoted, done.expired, done.retried + done.deadLettered, done.archived].some(
        (n) => n >= this.batch,
      );
      if (!full) return true;
    }
  }
}
