import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { AppError } from "../core/errors.js";
import type { PolicyKeys } from "../storage/keys.js";
import { LuaScript } from "../storage/lua-script.js";
import type { RateLimitSettings } from "./policy.js";

/**
 * Sliding-window rate limits per method and actor, exact across every server process: one
 * script (rateLimit-1.lua) per check, which is the call's only added round trip.
 */

const RATE_LIMIT = LuaScript.fromFile("rateLimit-1.lua");

/** Actor ids longer than this are hashed, so that no caller can make the key huge. */
const MAX_ACTOR_LENGTH = 128;

export class RateLimiter {
  #seq = 0;

  constructor(
    private readonly redis: Redis,
    private readonly keys: PolicyKeys,
    /** Makes each admitted call's log entry unique across processes. */
    private readonly instanceId: string,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Admits the call or throws RATE_LIMITED with the time to wait. */
  async check(method: string, actor: string, limit: RateLimitSettings): Promise<void> {
    const key = this.keys.rateWindow(method, actorKey(actor));
    const [admitted, , waitMs] = (await RATE_LIMIT.run(
      this.redis,
      [key],
      [this.clock(), limit.windowMs, limit.limit, `${this.instanceId}:${++this.#seq}`],
    )) as [number, number, number];
    if (admitted === 1) return;
    const retryAfterMs = Number(waitMs);
    throw new AppError(
      "RATE_LIMITED",
      `Rate limit exceeded for ${method}: ${limit.limit} calls per ${formatWindow(limit.windowMs)}; retry after ${Math.max(1, Math.ceil(retryAfterMs / 1000))} s`,
      { method, limit: limit.limit, windowMs: limit.windowMs, remaining: 0, retryAfterMs },
    );
  }
}

function actorKey(actor: string): string {
  return actor.length <= MAX_ACTOR_LENGTH ? actor : `sha1:${createHash("sha1").update(actor).digest("hex")}`;
}

function formatWindow(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
