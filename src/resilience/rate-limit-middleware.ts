import type { CallContext } from "../core/context.js";
import type { Middleware } from "../core/dispatch.js";
import type { PolicyMiddleware } from "./pipeline.js";
import type { EffectivePolicy } from "./policy.js";
import type { RateLimiter } from "./rate-limiter.js";

/** Who a rate limit counts a call against: the session, else the instance, else the address. */
export function actorOf(ctx: Pick<CallContext, "meta" | "transport">): string {
  const { meta } = ctx;
  if (meta.sessionId) return `session:${meta.sessionId}`;
  if (meta.instanceId) return `instance:${meta.instanceId}`;
  if (meta.remoteAddress) return `address:${meta.remoteAddress}`;
  return `transport:${ctx.transport}`;
}

/**
 * Refuses a call with RATE_LIMITED once its actor has used up the method's limit. Calls a
 * server makes to itself (`ctx.invoke`, transport "internal") are not rate limited: their
 * outer call was.
 */
export class RateLimitMiddleware implements PolicyMiddleware {
  constructor(private readonly limiter: RateLimiter) {}

  forMethod(method: string, policy: EffectivePolicy): Middleware | null {
    const limit = policy.rateLimit;
    if (!limit) return null;
    return async (invocation, next) => {
      if (invocation.ctx.transport !== "internal") {
        await this.limiter.check(method, actorOf(invocation.ctx), limit);
      }
      return next();
    };
  }
}
