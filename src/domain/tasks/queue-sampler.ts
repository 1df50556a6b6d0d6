import type { Logger } from "../../core/logger.js";
import type { QueueGauges } from "./stats.js";

/**
 * The queue over the last hour, for the dashboard's charts (system.activity): every SAMPLE_MS
 * one reading of the tasks by status and the tasks each worker holds (domain/tasks/stats.ts
 * `queueGauges`, two round trips), cluster-wide. The readings are kept in a bounded list, an
 * hour's worth; a reading that fails (Redis away) is a gap in the chart, not an error.
 */

export const SAMPLE_MS = 10_000;
/** An hour of samples. */
const KEPT = 3_600_000 / SAMPLE_MS;
/** A sample keeps the busiest workers only: a chart cannot show more lines than this anyway. */
const WORKERS_PER_SAMPLE = 50;

interface QueueSample extends QueueGauges {
  /** When it was read, epoch ms. */
  t: number;
}

export class QueueSampler {
  #samples: QueueSample[] = [];
  #timer: NodeJS.Timeout | undefined;
  #reading = false;

  constructor(
    private readonly read: () => Promise<QueueGauges>,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes the first sample now, then one every SAMPLE_MS until `stop`. */
  start(): void {
    void this.#take();
    this.#timer = setInterval(() => void this.#take(), SAMPLE_MS);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** The kept samples taken at or after `since`, oldest first, then a fresh reading (not kept). */
  async since(since: number): Promise<QueueSample[]> {
    const kept = this.#samples.filter((s) => s.t >= since);
    return [...kept, await this.#sample()];
  }

  async #sample(): Promise<QueueSample> {
    const { byStatus, workers } = await this.read();
    return { t: this.now(), byStatus, workers: workers.slice(0, WORKERS_PER_SAMPLE) };
  }

  async #take(): Promise<void> {
    if (this.#reading) return; // the previous reading is still waiting for Redis
    this.#reading = true;
    try {
      this.#samples.push(await this.#sample());
      if (this.#samples.length > KEPT) this.#samples.shift();
    } catch (err) {
      this.log.debug({ err }, "queue sample skipped");
    } finally {
      this.#reading = false;
    }
  }
}
