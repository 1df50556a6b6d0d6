import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Redis } from "ioredis";
import type { Middleware } from "../../src/core/dispatch.js";
import { AppError } from "../../src/core/errors.js";
import { createLogger } from "../../src/core/logger.js";
import { CacheMiddleware } from "../../src/resilience/cache-middleware.js";
import { ResponseCache } from "../../src/resilience/response-cache.js";
import { createKeys, type PolicyKeys } from "../../src/storage/keys.js";
import { until } from "../helpers/cluster.js";
import { uniquePrefix, useTestRedis } from "../helpers/redis.js";
import { invocationOf, policyWith, refusal } from "../helpers/resilience.js";

/** The cache middleware alone, on a real Redis, with the test's clock. */

const TTL_MS = 10_000;

describe("cache middleware", () => {
  let redis: Redis;
  let keys: PolicyKeys;
  let now = 1_900_000_000_000;
  let cache: CacheMiddleware;
  useTestRedis((started) => ({ redis } = started));

  /** A fresh cache (its own keys); `read` caches its results, `write` invalidates `read`'s. */
  function methods(): { read: Middleware; write: Middleware } {
    keys = createKeys(uniquePrefix("cache")).policy;
    cache = new CacheMiddleware(new ResponseCache(redis, keys, () => now), createLogger("silent"));
    return {
      read: cache.forMethod("m.read", policyWith({ cache: { ttlMs: TTL_MS } })) as Middleware,
      write: cache.forMethod("m.write", policyWith({ invalidates: ["m.read"] })) as Middleware,
    };
  }

  const entries = () => redis.hlen(keys.cache("m.read"));
  const stored = (count: number) => until(async () => (await entries()) === count, `${count} cached entries`);

  it("answers the same input from the cache without running the call, until the entry's TTL ends", async () => {
    const { read } = methods();
    let ran = 0;
    const next = async () => ({ run: ++ran });
    const call = (input: unknown) => read(invocationOf("m.read", { input }), next);
    assert.deepEqual(await call({ q: 1 }), { run: 1 });
    await stored(1);
    assert.deepEqual(await call({ q: 1 }), { run: 1 }, "served from the cache");
    assert.deepEqual(await call({ q: 2 }), { run: 2 }, "another input is another entry");
    await stored(2);
    now += TTL_MS;
    assert.deepEqual(await call({ q: 1 }), { run: 3 }, "the entry expired");
    assert.equal(ran, 3);
  });

  it("never stores an error", async () => {
    const { read } = methods();
    const failing = async () => {
      throw new AppError("NOT_FOUND", "nothing here");
    };
    assert.equal(
      (await refusal(() => read(invocationOf("m.read", { input: { q: "x" } }), failing))).code,
      "NOT_FOUND",
    );
    assert.deepEqual(await read(invocationOf("m.read", { input: { q: "y" } }), async () => "found"), "found");
    await stored(1);
    assert.equal(
      await read(invocationOf("m.read", { input: { q: "x" } }), async () => "now found"),
      "now found",
      "the failed input was not cached",
    );
  });

  it("drops the caches a successful call of an invalidating method names, and only then", async () => {
    const { read, write } = methods();
    await read(invocationOf("m.read"), async () => "before");
    await stored(1);
    const conflict = async () => {
      throw new AppError("CONFLICT", "not written");
    };
    assert.equal((await refusal(() => write(invocationOf("m.write"), conflict))).code, "CONFLICT");
    assert.equal(
      await read(invocationOf("m.read"), async () => "after"),
      "before",
      "a failed write changes nothing",
    );
    assert.equal(await write(invocationOf("m.write"), async () => "written"), "written");
    await stored(0);
    assert.equal(await read(invocationOf("m.read"), async () => "after"), "after");
  });

  it("puts nothing in front of a method that neither caches nor invalidates", () => {
    methods();
    assert.equal(cache.forMethod("m.other", policyWith({ concurrency: 2 })), null);
  });
});
