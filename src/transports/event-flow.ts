import type { LiveEventBudget } from "./event-budget.js";

/**
 * Keeps the bytes waiting to be sent to one live-event client (SSE response or WebSocket)
 * bounded. Live events are written as they come; past `maxBytes` unsent, or past its share
 * when all clients together hold more than the process' budget (event-budget.ts), the caller
 * disconnects the client (it reconnects and resumes from the stream). During a replay,
 * the event feed asks `ready` after each event: past an eighth of the bound it waits until
 * everything written so far has been flushed, so a client far behind is fed at its own pace
 * and never reaches the bound because of the replay.
 */
export class FlowControl {
  /** Frames written, and the last one whose write callback has run (they run in order). */
  #written = 0;
  #flushed = 0;
  #waiter: { upTo: number; wake: (open: boolean) => void } | null = null;
  #closed = false;
  /** Unsent bytes as last reported to the budget. */
  #reported = 0;

  constructor(
    /** Bytes written but not yet handed to the kernel. */
    private readonly buffered: () => number,
    readonly maxBytes: number,
    private readonly budget: LiveEventBudget,
  ) {}

  get closed(): boolean {
    return this.#closed;
  }

  get overflowing(): boolean {
    const own = this.buffered();
    return own > this.maxBytes || this.budget.overShare(own);
  }

  /** Writes one frame through `write`, which must pass `onFlushed` as the write's callback. */
  send(write: (onFlushed: () => void) => void): void {
    const n = ++this.#written;
    write(() => {
      this.#report();
      this.#flushed = n;
      const waiter = this.#waiter;
      if (waiter && n >= waiter.upTo) {
        this.#waiter = null;
        waiter.wake(!this.#closed);
      }
    });
    this.#report();
  }

  /** Tells the budget how many unsent bytes this client holds now. */
  #report(): void {
    const now = this.#closed ? 0 : this.buffered();
    this.budget.adjust(now - this.#reported);
    this.#reported = now;
  }

  /** The event feed's `ready`: true to go on, a promise while the buffer drains, false once closed. */
  ready = (): boolean | Promise<boolean> => {
    if (this.#closed) return false;
    if (this.#flushed === this.#written || this.buffered() < this.maxBytes / 8) return true;
    return new Promise((wake) => {
      this.#waiter = { upTo: this.#written, wake };
    });
  };

  /** The client has gone (or is being disconnected): stop a replay that waits for it. */
  close(): void {
    this.#closed = true;
    this.#report();
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.wake(false);
  }
}
