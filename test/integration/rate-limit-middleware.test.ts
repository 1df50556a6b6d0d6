import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Redis } from "ioredis";
import type { Middleware } from "../../src/core/dispatch.js";
import { actorOf, RateLimitMiddleware } from "../../src/resilience/rate-limit-middleware.js";
import { RateLimiter } from "../../src/resilience/rate-limiter.js";
import { createKeys } from "../../src/storage/keys.js";
import { uniquePrefix, useTestRedis } from "../helpers/redis.js";
import { invocationOf, policyWith, refusal } from "../helpers/resilience.js";

/** The rate limit middleware alone, on a real Redis, with the test's clock. */

const LIMIT = { limit: 2, windowMs: 60_000 };

describe("rate limit middleware", () => {
  let redis: Redis;
  let now = 1_900_000_000_000;
  let middleware: RateLimitMiddleware;
  useTestRedis((started) => ({ redis } = started));

  /** A fresh limiter (its own keys) and this method's middleware under LIMIT. */
  function limited(method = "m.limited"): Middleware {
    const limiter = new RateLimiter(redis, createKeys(uniquePrefix("rl")).policy, "test", () => now);
    middleware = new RateLimitMiddleware(limiter);
    return middleware.forMethod(method, policyWith({ rateLimit: LIMIT })) as Middleware;
  }

  it("admits an actor's calls up to the limit, then refuses with RATE_LIMITED without running the call", async () => {
    const limit = limited();
    let ran = 0;
    const next = async () => ++ran;
    const bySession = invocationOf("m.limited", { meta: { sessionId: "s1" } });
    assert.equal(await limit(bySession, next), 1);
    assert.equal(await limit(bySession, next), 2);
    const refused = await refusal(() => limit(bySession, next));
    assert.equal(refused.code, "RATE_LIMITED");
    assert.deepEqual(refused.data, {
      method: "m.limited",
      limit: 2,
      windowMs: 60_000,
      remaining: 0,
      retryAfterMs: 60_000,
    });
    assert.match(refused.message, /2 calls per 60 s; retry after 60 s/);
    assert.equal(ran, 2, "the refused call did not run");
  });

  it("counts each actor on its own, and slides the window with the clock", async () => {
    const limit = limited();
    const next = async () => "ran";
    const first = invocationOf("m.limited", { meta: { sessionId: "first" } });
    await limit(first, next);
    await limit(first, next);
    assert.equal((await refusal(() => limit(first, next))).code, "RATE_LIMITED");
    const other = invocationOf("m.limited", { meta: { sessionId: "other" } });
    assert.equal(await limit(other, next), "ran");
    now += LIMIT.windowMs;
    assert.equal(await limit(first, next), "ran", "the first two calls left the window");
  });

  it("does not limit the calls a server makes to itself", async () => {
    const limit = limited();
    const internal = invocationOf("m.limited", { transport: "internal", meta: { sessionId: "s1" } });
    for (let i = 0; i < LIMIT.limit * 3; i++) assert.equal(await limit(internal, async () => i), i);
  });

  it("counts a call against its session, else its instance, else its address, else its transport", () => {
    const ctx = (transport: "jsonrpc" | "mcp", meta: Record<string, string>) => ({ transport, meta });
    assert.equal(
      actorOf(ctx("jsonrpc", { sessionId: "s", instanceId: "i", remoteAddress: "a" })),
      "session:s",
    );
    assert.equal(actorOf(ctx("jsonrpc", { instanceId: "i", remoteAddress: "a" })), "instance:i");
    assert.equal(actorOf(ctx("jsonrpc", { remoteAddress: "::1" })), "address:::1");
    assert.equal(actorOf(ctx("mcp", {})), "transport:mcp");
  });

  it("puts nothing in front of a method without a rate limit", () => {
    limited();
    assert.equal(middleware.forMethod("m.free", policyWith({ concurrency: 3 })), null);
  });
});
