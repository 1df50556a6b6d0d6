import type { Middleware } from "../core/dispatch.js";
import type { Logger } from "../core/logger.js";
import type { PolicyMiddleware } from "./pipeline.js";
import type { EffectivePolicy } from "./policy.js";
import { ResponseCache } from "./response-cache.js";

/**
 * Answers a method that declares `cache` from its cached result for the same input, and
 * stores what it computes; a successful call of a method that declares `invalidates` drops
 * those methods' caches. Storing and dropping are not awaited: the answer does not wait for
 * the cache's bookkeeping, whose failures are only logged.
 */
export class CacheMiddleware implements PolicyMiddleware {
  constructor(
    private readonly cache: ResponseCache,
    private readonly log: Logger,
  ) {}

  forMethod(method: string, policy: EffectivePolicy): Middleware | null {
    const { cache, invalidates } = policy;
    if (!cache && invalidates.length === 0) return null;
    return async (invocation, next) => {
      let digest: string | undefined;
      if (cache) {
        digest = ResponseCache.digest(invocation.input);
        const hit = await this.cache.get(method, digest);
        if (hit !== ResponseCache.MISS) return hit;
      }
      const result = await next();
      if (cache && digest) this.#background(this.cache.put(method, digest, result, cache.ttlMs));
      if (invalidates.length > 0) this.#background(this.cache.invalidate(invalidates));
      return result;
    };
  }

  #background(work: Promise<unknown>): void {
    work.catch((err) => this.log.warn({ err }, "response cache bookkeeping failed"));
  }
}
