import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { LuaScript } from "../../src/storage/lua-script.js";
import { type TestRedis, uniquePrefix, useTestRedis } from "../helpers/redis.js";

/**
 * Each resilience script on its own, on seeded state in a real Redis: every return code its
 * header documents, and the announcements it publishes.
 */

const rateLimit = LuaScript.fromFile("rateLimit-1.lua");
const record = LuaScript.fromFile("breakerRecord-1.lua");
const probe = LuaScript.fromFile("breakerProbe-1.lua");
const settle = LuaScript.fromFile("breakerSettle-1.lua");
const cachePut = LuaScript.fromFile("cachePut-1.lua");

const T0 = 1_000_000;
const WINDOW = 10_000;
const OPEN = 5_000;
const LIFETIME = 120_000;

describe("resilience scripts", () => {
  let server: TestRedis;
  let redis: Redis;
  let subscriber: Redis;
  const announced: unknown[] = [];
  const channel = `${uniquePrefix("ch")}:breaker`;

  useTestRedis((started) => ({ server, redis } = started));
  before(async () => {
    subscriber = new Redis(server.url);
    subscriber.on("message", (_c: string, message: string) => announced.push(JSON.parse(message)));
    await subscriber.subscribe(channel);
  });
  after(() => subscriber?.disconnect());

  it("rateLimit admits up to the limit, refuses with the wait, and slides", async () => {
    const key = `${uniquePrefix()}:rl`;
    const run = (now: number, member: string) => rateLimit.run(redis, [key], [now, WINDOW, 3, member]);
    assert.deepEqual(await run(T0, "a"), [1, 2]);
    assert.deepEqual(await run(T0 + 100, "b"), [1, 1]);
    assert.deepEqual(await run(T0 + 200, "c"), [1, 0]);
    assert.deepEqual(await run(T0 + 300, "d"), [0, 0, WINDOW - 300], "the oldest leaves at T0 + window");
    assert.equal(await redis.zcard(key), 3, "a refused call leaves no trace");
    assert.deepEqual(await run(T0 + WINDOW, "e"), [1, 0], "the first call left the window");
    assert.ok((await redis.pttl(key)) > 0, "the log expires when idle");
  });

  it("breakerRecord counts outcomes in buckets and opens on the ratio with enough calls", async () => {
    const key = `${uniquePrefix()}:cb`;
    const run = (now: number, calls: number, failures: number) =>
      record.run(redis, [key], [now, calls, failures, WINDOW, 10, 4, 0.5, OPEN, channel, "m.a", LIFETIME]);
    assert.deepEqual(await run(T0, 2, 2), ["closed", 0, 0, 2, 2], "too few calls to open");
    assert.deepEqual(await run(T0 + 1500, 3, 0), ["closed", 0, 0, 5, 2], "2 of 5 is under the ratio");
    assert.deepEqual(
      await run(T0 + WINDOW + 100, 1, 0),
      ["closed", 0, 0, 4, 0],
      "the bucket of T0 left the window: 3 + 1 calls, no failures",
    );
    assert.deepEqual(await run(T0 + WINDOW + 200, 4, 4), ["open", T0 + WINDOW + 200 + OPEN, 1, 8, 4]);
    assert.deepEqual(
      await run(T0 + WINDOW + 300, 5, 5),
      ["open", T0 + WINDOW + 200 + OPEN, 0, 0, 0],
      "outcomes while open are ignored",
    );
    assert.deepEqual(await redis.hgetall(key), {
      state: "open",
      openUntil: String(T0 + WINDOW + 200 + OPEN),
    });
  });

  it("breakerProbe refuses before the open time, then admits a limited number of probes", async () => {
    const key = `${uniquePrefix()}:cb`;
    const run = (now: number, probes = 1) =>
      probe.run(redis, [key], [now, probes, 1000, channel, "m.b", LIFETIME]);
    assert.deepEqual(await run(T0), [1, "closed", 0, 0], "closed: run normally");
    await redis.hset(key, "state", "open", "openUntil", T0 + OPEN);
    assert.deepEqual(await run(T0 + 1000), [0, "open", OPEN - 1000, 0]);
    assert.deepEqual(await run(T0 + OPEN), [2, "half_open", 0, 1], "the first call after the open time");
    assert.deepEqual(await run(T0 + OPEN + 10), [0, "half_open", 990, 0], "the one probe slot is taken");
    assert.deepEqual(
      await run(T0 + OPEN + 10, 2),
      [2, "half_open", 0, 0],
      "with two slots a second probe runs",
    );
    assert.deepEqual(
      await run(T0 + OPEN + 1010),
      [2, "half_open", 0, 0],
      "a probe that never settled frees its slot",
    );
  });

  it("breakerSettle closes on success, reopens on failure, and ignores late probes", async () => {
    const key = `${uniquePrefix()}:cb`;
    const run = (now: number, ok: 0 | 1) =>
      settle.run(redis, [key], [now, ok, OPEN, channel, "m.c", LIFETIME]);
    assert.deepEqual(await run(T0, 1), ["closed", 0, 0], "not half-open: nothing to settle");
    await redis.hset(key, "state", "half_open", "probes", 1, "c0", 9, "f0", 9, "t0", 1);
    assert.deepEqual(await run(T0, 1), ["closed", 0, 1]);
    assert.deepEqual(await redis.hgetall(key), { state: "closed" }, "closed with an empty window");
    await redis.hset(key, "state", "half_open", "probes", 1);
    assert.deepEqual(await run(T0 + 100, 0), ["open", T0 + 100 + OPEN, 1]);
    assert.deepEqual(await run(T0 + 200, 1), ["open", T0 + 100 + OPEN, 0], "a second probe's late success");
  });

  it("announces every transition on the channel", async () => {
    const deadline = Date.now() + 2000;
    while (announced.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(announced, [
      { method: "m.a", state: "open", openUntil: T0 + WINDOW + 200 + OPEN },
      { method: "m.b", state: "half_open", openUntil: 0 },
      { method: "m.c", state: "closed", openUntil: 0 },
      { method: "m.c", state: "open", openUntil: T0 + 100 + OPEN },
    ]);
  });

  it("cachePut stores with a lifetime and empties a full cache first", async () => {
    const key = `${uniquePrefix()}:cache`;
    for (let i = 0; i < 3; i++)
      assert.equal(await cachePut.run(redis, [key], [`d${i}`, `1|${i}`, 5000, 3]), 1);
    assert.equal(await redis.hlen(key), 3);
    await cachePut.run(redis, [key], ["d3", "1|3", 5000, 3]);
    assert.deepEqual(await redis.hgetall(key), { d3: "1|3" });
    assert.ok((await redis.pttl(key)) > 4000);
  });
});
