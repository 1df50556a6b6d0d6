import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { Redis } from "ioredis";
import { createLogger } from "../../src/core/logger.js";
import { CircuitBreakerMiddleware } from "../../src/resilience/breaker-middleware.js";
import { BulkheadMiddleware } from "../../src/resilience/bulkhead-middleware.js";
import { CacheMiddleware } from "../../src/resilience/cache-middleware.js";
import { BreakerBoard } from "../../src/resilience/circuit-breaker.js";
import { ResiliencePipeline } from "../../src/resilience/pipeline.js";
import type { EffectivePolicy } from "../../src/resilience/policy.js";
import { RateLimitMiddleware } from "../../src/resilience/rate-limit-middleware.js";
import { RateLimiter } from "../../src/resilience/rate-limiter.js";
import { ResponseCache } from "../../src/resilience/response-cache.js";
import { createKeys, type PolicyKeys } from "../../src/storage/keys.js";
import { until } from "../helpers/cluster.js";
import { uniquePrefix, useTestRedis } from "../helpers/redis.js";
import { heldCall, invocationOf, policyWith, refusal } from "../helpers/resilience.js";

/**
 * The four resilience middleware composed in the server's order (rate limit → cache →
 * concurrency limit → circuit breaker) on a real Redis: each method gets the concerns its
 * policy asks for, and what one refuses never reaches the ones after it.
 */

const log = createLogger("silent");
const BREAKER = { failureRatio: 0.5, minCalls: 1, windowMs: 10_000, openMs: 5_000, halfOpenProbes: 1 };

describe("resilience pipeline", () => {
  let redis: Redis;
  let keys: PolicyKeys;
  let board: BreakerBoard;
  const now = 1_900_000_000_000;
  useTestRedis((started) => ({ redis } = started));
  afterEach(async () => {
    await board?.stop();
  });

  async function pipeline(policies: Record<string, Partial<EffectivePolicy>>): Promise<ResiliencePipeline> {
    keys = createKeys(uniquePrefix("pipe")).policy;
    board = new BreakerBoard({ redis, keys, log, emit: async () => "0-0", clock: () => now });
    const resilience = new ResiliencePipeline(
      [
        new RateLimitMiddleware(new RateLimiter(redis, keys, "test", () => now)),
        new CacheMiddleware(new ResponseCache(redis, keys, () => now), log),
        new BulkheadMiddleware(),
        new CircuitBreakerMiddleware(board, log),
      ],
      new Map(Object.entries(policies).map(([method, fields]) => [method, policyWith(fields)])),
    );
    await board.start();
    return resilience;
  }

  const cached = (method: string) =>
    until(async () => (await redis.hlen(keys.cache(method))) > 0, `${method}'s result to be cached`);

  it("runs a method without a policy, or whose policy asks nothing, straight to the handler", async () => {
    const { middleware } = await pipeline({ "m.plain": {} });
    assert.equal(await middleware(invocationOf("m.plain"), async () => "plain"), "plain");
    assert.equal(await middleware(invocationOf("m.unknown"), async () => "unknown"), "unknown");
  });

  it("gives the dispatcher each method's timeout, and none for a method it does not know", async () => {
    const { timeoutFor } = await pipeline({ "m.slow": { timeoutMs: 250 } });
    assert.equal(timeoutFor(invocationOf("m.slow").handler), 250);
    assert.equal(timeoutFor(invocationOf("m.unknown").handler), 0);
  });

  it("rate limits before the cache: a cached answer still counts against the caller's limit", async () => {
    const { middleware } = await pipeline({
      "m.read": { rateLimit: { limit: 1, windowMs: 60_000 }, cache: { ttlMs: 10_000 } },
    });
    const call = invocationOf("m.read", { meta: { sessionId: "s" } });
    assert.equal(await middleware(call, async () => "fresh"), "fresh");
    await cached("m.read");
    assert.equal((await refusal(() => middleware(call, async () => "again"))).code, "RATE_LIMITED");
  });

  it("answers from the cache before the concurrency limit: a cache hit takes no slot", async () => {
    const { middleware } = await pipeline({ "m.read": { cache: { ttlMs: 10_000 }, concurrency: 1 } });
    assert.equal(await middleware(invocationOf("m.read", { input: { q: 1 } }), async () => "one"), "one");
    await cached("m.read");
    const held = heldCall();
    const holding = middleware(invocationOf("m.read", { input: { q: 2 } }), held.next);
    assert.equal(await middleware(invocationOf("m.read", { input: { q: 1 } }), async () => "ran"), "one");
    const over = middleware(invocationOf("m.read", { input: { q: 3 } }), async () => "ran");
    assert.equal((await refusal(() => over)).code, "UNAVAILABLE", "a miss needs the slot");
    held.finish("two");
    assert.equal(await holding, "two");
  });

  it("limits concurrency before the breaker: shedding load is no breaker failure", async () => {
    const { middleware } = await pipeline({ "m.busy": { concurrency: 1, breaker: BREAKER } });
    const held = heldCall();
    const holding = middleware(invocationOf("m.busy"), held.next);
    assert.equal(
      (await refusal(() => middleware(invocationOf("m.busy"), async () => "no"))).code,
      "UNAVAILABLE",
    );
    held.finish("done");
    assert.equal(await holding, "done");
    await board.flush();
    assert.equal(board.states()["m.busy"]?.state, "closed", "1 success, and the refusal not counted");
  });

  it("follows new policies: a method gets the concerns its new policy asks for", async () => {
    const resilience = await pipeline({ "m.changing": {} });
    const held = heldCall();
    const holding = resilience.middleware(invocationOf("m.changing"), held.next);
    resilience.setPolicies(new Map([["m.changing", policyWith({ concurrency: 1, breaker: BREAKER })]]));
    assert.deepEqual(Object.keys(board.states()), ["m.changing"]);
    const first = heldCall();
    const limited = resilience.middleware(invocationOf("m.changing"), first.next);
    const over = () => resilience.middleware(invocationOf("m.changing"), async () => "no");
    assert.equal((await refusal(over)).code, "UNAVAILABLE");
    first.finish("limited");
    held.finish("unlimited");
    assert.deepEqual(await Promise.all([holding, limited]), ["unlimited", "limited"]);
  });
});
