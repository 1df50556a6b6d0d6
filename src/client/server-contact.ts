import { formatDuration } from "./duration.js";
import { ClaudeBenchError } from "./http-client.js";

/**
 * Tells a terminal when calls to the server start failing and when they work again: one line
 * each, not one per attempt (a worker retries every few seconds for as long as an outage
 * lasts). An error of another kind while still failing gets its line too (the server came
 * back, but refusing); the same kind with other words (a reset connection, then a refused
 * one) does not.
 */
export class ServerContact {
  /** When the calls started failing; null while they work. */
  #since: number | null = null;
  #lastKind = "";

  constructor(
    private readonly report: (line: string) => void,
    /** What the caller does meanwhile, for the first line, e.g. "retrying with back-off, 1 s up to 30 s". */
    private readonly meanwhile: string,
    private readonly clock: () => number = Date.now,
  ) {}

  get failing(): boolean {
    return this.#since !== null;
  }

  failed(err: unknown): void {
    const kind = err instanceof ClaudeBenchError ? err.code : (err as Error).message;
    const what =
      err instanceof ClaudeBenchError && err.code !== "NETWORK"
        ? `${err.code}: ${err.message}`
        : (err as Error).message;
    if (this.#since === null) {
      this.#since = this.clock();
      this.report(`! server unavailable (${what}); ${this.meanwhile}`);
    } else if (kind !== this.#lastKind) {
      this.report(`! server still unavailable (${what})`);
    }
    this.#lastKind = kind;
  }

  succeeded(): void {
    if (this.#since === null) return;
    const down = this.clock() - this.#since;
    this.#since = null;
    this.#lastKind = "";
    this.report(`server answering again after ${formatDuration(down)}`);
  }
}
