import type { Middleware } from "../core/dispatch.js";
import { AppError } from "../core/errors.js";
import type { PolicyMiddleware } from "./pipeline.js";
import type { EffectivePolicy } from "./policy.js";

/** Calls of one method running now in this process. */
interface Slots {
  running: number;
}

/**
 * Bulkhead: at most `concurrency` calls of a method run at once in this process; the rest are
 * refused at once with UNAVAILABLE, before the circuit breaker, so that shedding load never
 * opens it.
 */
export class BulkheadMiddleware implements PolicyMiddleware {
  /** Kept across policy changes: calls that started under the old policy still hold a slot. */
  readonly #slots = new Map<string, Slots>();

  forMethod(method: string, policy: EffectivePolicy): Middleware | null {
    const limit = policy.concurrency;
    if (limit === 0) return null;
    const slots = this.#slotsOf(method);
    return async (_invocation, next) => {
      if (slots.running >= limit) {
        throw new AppError(
          "UNAVAILABLE",
          `Too many concurrent calls of ${method} on this server (limit ${limit}); retry shortly`,
          { method, concurrencyLimit: limit, retryAfterMs: 100 },
        );
      }
      slots.running++;
      try {
        return await next();
      } finally {
        slots.running--;
      }
    };
  }

  #slotsOf(method: string): Slots {
    let slots = this.#slots.get(method);
    if (!slots) {
      slots = { running: 0 };
      this.#slots.set(method, slots);
    }
    return slots;
  }
}
