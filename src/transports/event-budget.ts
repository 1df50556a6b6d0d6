import { AppError } from "../core/errors.js";

/**
 * What all live-event clients of this process (SSE `/events` and WebSocket `/ws` together)
 * may hold: at most `maxClients` connected (EVENT_CLIENTS_MAX), and at most `maxBytes` written
 * but not yet sent across them (EVENT_BUFFERS_TOTAL_BYTES). Each client's own bound
 * (EVENT_CLIENT_BUFFER_BYTES) stops one slow reader; this one stops many paused readers, each
 * under its own bound, from filling the heap together. Over the total, the clients that hold
 * more than an even share are cut off (they resume from the stream when they come back);
 * clients that keep up hold next to nothing and are never the ones cut.
 */
export class LiveEventBudget {
  #clients = 0;
  #bytes = 0;

  constructor(
    readonly maxClients: number,
    readonly maxBytes: number,
  ) {}

  get clients(): number {
    return this.#clients;
  }

  /** Bytes written to clients and not yet sent, as their flow controls last reported. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Takes a client's place; UNAVAILABLE when every place is taken. Returns the release (once). */
  admit(): () => void {
    if (this.#clients >= this.maxClients) {
      throw new AppError(
        "UNAVAILABLE",
        `This server already serves ${this.maxClients} live-event clients (EVENT_CLIENTS_MAX); retry later or use another server`,
        { limit: this.maxClients, retryAfterMs: 5000 },
      );
    }
    this.#clients++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#clients--;
    };
  }

  /** A client's unsent bytes changed by `delta`. */
  adjust(delta: number): void {
    this.#bytes += delta;
  }

  /** Whether a client holding `own` unsent bytes is to be cut because the total is over its bound. */
  overShare(own: number): boolean {
    return this.#bytes > this.maxBytes && own > this.maxBytes / Math.max(1, this.#clients);
  }
}
