/**
 * Waits between attempts that double from `baseMs` up to `maxMs`, and start again from
 * `baseMs` after a success (`reset`). With `random` (Math.random) each wait is drawn between
 * half and all of its step, so that many callers that failed together do not retry together;
 * without it the waits are exact, for a terminal line that says them.
 */
export class Backoff {
  #step = 0;

  constructor(
    readonly baseMs: number,
    readonly maxMs: number,
    private readonly random?: () => number,
  ) {}

  /** The wait before the next attempt. */
  next(): number {
    const step = Math.min(this.maxMs, this.baseMs * 2 ** this.#step);
    if (step < this.maxMs) this.#step++;
    return this.random ? step * (0.5 + this.random() / 2) : step;
  }

  reset(): void {
    this.#step = 0;
  }
}
