import type { Redis } from "ioredis";
import type { CallContext, EmitFn } from "../core/context.js";
import type { Invocation, Middleware } from "../core/dispatch.js";
import { AppError, toAppError } from "../core/errors.js";
import type { AnyHandler } from "../core/handler.js";
import type { Logger } from "../core/logger.js";
import type { PolicyKeys } from "../storage/keys.js";
import { type Admission, BreakerBoard, countsAsFailure } from "./circuit-breaker.js";
import type { BreakerSettings, EffectivePolicy } from "./policy.js";
import { RateLimiter } from "./rate-limiter.js";
import { ResponseCache } from "./response-cache.js";

/**
 * Enforces each handler's resolved policy, the same way on every transport, in this order:
 * rate limit → cache → concurrency limit → circuit breaker → (timeout, in the dispatcher, so
 * that the breaker sees timeouts as failures) → handler. Calls a server makes to itself
 * (`ctx.invoke`, transport "internal") are not rate limited.
 *
 * While Redis is unreachable no outcome is recorded: every call fails at once then (UNAVAILABLE)
 * whatever its method, the breakers' state could not be written anyway, and breakers opened by
 * the outage would keep refusing calls after Redis is back.
 */

export interface ResilienceOptions {
  redis: Redis;
  keys: PolicyKeys;
  log: Logger;
  emit: EmitFn;
  instanceId: string;
  policies: ReadonlyMap<string, EffectivePolicy>;
  /** Time source of rate windows, breaker windows and cache expiry (tests control it). */
  clock?: () => number;
  /** Whether Redis is reachable now (RedisLink.up); outcomes are recorded only while it is. */
  redisUp?: () => boolean;
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

/** Who a rate limit counts a call against: the session, else the instance, else the address. */
export function actorOf(ctx: CallContext): string {
  const { meta } = ctx;
  if (meta.sessionId) return `session:${meta.sessionId}`;
  if (meta.instanceId) return `instance:${meta.instanceId}`;
  if (meta.remoteAddress) return `address:${meta.remoteAddress}`;
  return `transport:${ctx.transport}`;
}

export class Resilience {
  readonly breakers: BreakerBoard;
  #policies: ReadonlyMap<string, EffectivePolicy>;
  readonly #limiter: RateLimiter;
  readonly #cache: ResponseCache;
  readonly #running = new Map<string, number>();
  readonly #log: Logger;
  readonly #redisUp: () => boolean;

  constructor(options: ResilienceOptions) {
    this.#policies = options.policies;
    this.#log = options.log;
    this.#redisUp = options.redisUp ?? (() => true);
    this.#limiter = new RateLimiter(options.redis, options.keys, options.instanceId, options.clock);
    this.#cache = new ResponseCache(options.redis, options.keys, options.clock);
    this.breakers = new BreakerBoard({
      redis: options.redis,
      keys: options.keys,
      log: options.log,
      emit: options.emit,
      ...breakerSettings(options.policies),
      clock: options.clock,
    });
  }

  /**
   * Enforces these policies from now on (the handlers served changed): one swap of the map
   * the middleware reads, and the breaker board follows the methods that have a breaker.
   */
  setPolicies(policies: ReadonlyMap<string, EffectivePolicy>): void {
    this.#policies = policies;
    const { breakers, probeTimeoutMs } = breakerSettings(policies);
    this.breakers.configure(breakers, probeTimeoutMs);
  }

  start(): Promise<void> {
    return this.breakers.start();
  }

  stop(): Promise<void> {
    return this.breakers.stop();
  }

  /** The dispatcher's timeout for a handler (0: none). */
  timeoutFor = (handler: AnyHandler): number => this.#policies.get(handler.name)?.timeoutMs ?? 0;

  middleware: Middleware = (invocation, next) => {
    const method = invocation.handler.name;
    const policy = this.#policies.get(method);
    if (!policy) return next();
    // Not async on the common path (only a breaker): no extra promise per call.
    if (!policy.rateLimit && !policy.cache && policy.concurrency === 0 && policy.invalidates.length === 0) {
      return policy.breaker ? this.#guarded(method, next) : next();
    }
    return this.#full(invocation, policy, next);
  };

  async #full(
    invocation: Invocation,
    policy: EffectivePolicy,
    next: () => Promise<unknown>,
  ): Promise<unknown> {
    const method = invocation.handler.name;
    if (policy.rateLimit && invocation.ctx.transport !== "internal") {
      await this.#limiter.check(method, actorOf(invocation.ctx), policy.rateLimit);
    }
    let digest: string | undefined;
    if (policy.cache) {
      digest = ResponseCache.digest(invocation.input);
      const hit = await this.#cache.get(method, digest);
      if (hit !== ResponseCache.MISS) return hit;
    }
    if (policy.concurrency > 0) this.#enter(method, policy.concurrency);
    try {
      const result = policy.breaker ? await this.#guarded(method, next) : await next();
      if (policy.cache && digest)
        this.#background(this.#cache.put(method, digest, result, policy.cache.ttlMs));
      if (policy.invalidates.length > 0) this.#background(this.#cache.invalidate(policy.invalidates));
      return result;
    } finally {
      if (policy.concurrency > 0) this.#running.set(method, (this.#running.get(method) ?? 1) - 1);
    }
  }

  #guarded(method: string, next: () => Promise<unknown>): Promise<unknown> {
    const admission = this.breakers.admit(method);
    return admission === "normal" ? this.#counted(method, next) : this.#probed(method, admission, next);
  }

  /** Runs an admitted call; its outcome is counted and sent in the next batch (no round trip). */
  #counted(method: string, next: () => Promise<unknown>): Promise<unknown> {
    return next().then(
      (result) => {
        this.breakers.record(method, false);
        return result;
      },
      (err: unknown) => {
        if (this.#redisUp()) this.breakers.record(method, countsAsFailure(toAppError(err).code));
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
      failed = this.#redisUp() && countsAsFailure(toAppError(err).code);
      throw err;
    } finally {
      await this.breakers.settle(method, !failed).catch((err) => {
        this.#log.warn({ err, method }, "settling a circuit breaker probe failed");
      });
    }
  }

  /** Bulkhead: at most `limit` calls of a method run at once in this process; the rest are refused. */
  #enter(method: string, limit: number): void {
    const running = this.#running.get(method) ?? 0;
    if (running >= limit) {
      throw new AppError(
        "UNAVAILABLE",
        `Too many concurrent calls of ${method} on this server (limit ${limit}); retry shortly`,
        { method, concurrencyLimit: limit, retryAfterMs: 100 },
      );
    }
    this.#running.set(method, running + 1);
  }

  #background(work: Promise<unknown>): void {
    work.catch((err) => this.#log.warn({ err }, "response cache bookkeeping failed"));
  }
}
