import type { Middleware } from "../core/dispatch.js";
import { toAppError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { type Admission, type BreakerBoard, countsAsFailure } from "./circuit-breaker.js";
import type { PolicyMiddleware } from "./pipeline.js";
import type { BreakerSettings, EffectivePolicy } from "./policy.js";

/**
 * Runs a call of a method that has a breaker only when its breaker lets it (CIRCUIT_OPEN
 * otherwise), and reports the call's outcome to the breaker board. The dispatcher's timeout
 * runs inside it, so that a call that took too long counts as a failure (TIMEOUT).
 *
 * While Redis is unreachable no outcome is recorded: every call fails at once then (UNAVAILABLE)
 * whatever its method, the breakers' state could not be written anyway, and breakers opened by
 * the outage would keep refusing calls after Redis is back.
 */
export class CircuitBreakerMiddleware implements PolicyMiddleware {
  constructor(
    private readonly board: BreakerBoard,
    private readonly log: Logger,
    /** Whether Redis is reachable now (RedisLink.up); outcomes are recorded only while it is. */
    private readonly redisUp: () => boolean = () => true,
  ) {}

  /** The board follows the methods that have a breaker. */
  configure(policies: ReadonlyMap<string, EffectivePolicy>): void {
    const { breakers, probeTimeoutMs } = breakerSettings(policies);
    this.board.configure(breakers, probeTimeoutMs);
  }

  forMethod(method: string, policy: EffectivePolicy): Middleware | null {
    if (!policy.breaker) return null;
    // Not async: a call admitted with no round trip (a closed breaker) makes no extra promise.
    return (_invocation, next) => {
      const admission = this.board.admit(method);
      return admission === "normal" ? this.#counted(method, next) : this.#probed(method, admission, next);
    };
  }

  /** Runs an admitted call; its outcome is counted and sent in the next batch (no round trip). */
  #counted(method: string, next: () => Promise<unknown>): Promise<unknown> {
    return next().then(
      (result) => {
        this.board.record(method, false);
        return result;
      },
      (err: unknown) => {
        if (this.redisUp()) this.board.record(method, countsAsFailure(toAppError(err).code));
        throw err;
      },
    );
  }

  async #probed(method: string, admission: Admission | Promise<Admission>, next: () => Promise<unknown>) {
    if ((await admission) === "normal") return this.#counted(method, next);
    let failed = false;
    try {
      return await next();
    } catch (err) {
      failed = this.redisUp() && countsAsFailure(toAppError(err).code);
      throw err;
    } finally {
      await this.board.settle(method, !failed).catch((err) => {
        this.log.warn({ err, method }, "settling a circuit breaker probe failed");
      });
    }
  }
}

/** Each breaker-enabled method's settings, and how long a probe may take: the longest timeout. */
function breakerSettings(policies: ReadonlyMap<string, EffectivePolicy>): {
  breakers: Map<string, BreakerSettings>;
  probeTimeoutMs: number;
} {
  const breakers = new Map<string, BreakerSettings>();
  let longestTimeout = 0;
  for (const [method, policy] of policies) {
    if (policy.breaker) breakers.set(method, policy.breaker);
    longestTimeout = Math.max(longestTimeout, policy.timeoutMs);
  }
  return { breakers, probeTimeoutMs: longestTimeout > 0 ? longestTimeout : 60_000 };
}
