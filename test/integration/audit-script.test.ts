import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { LuaScript } from "../../src/storage/lua-script.js";
import { startTestRedis, type TestRedis, uniquePrefix } from "../helpers/redis.js";

/** appendAudit-1.lua on its own: one stream entry per record, fields as given, the cap kept. */

const append = LuaScript.fromFile("appendAudit-1.lua");

describe("appendAudit", () => {
  let server: TestRedis;
  let redis: Redis;
  before(async () => {
    server = await startTestRedis();
    redis = new Redis(server.url);
  });
  after(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  it("appends each record as its own entry, with its own fields, in order", async () => {
    const stream = `${uniquePrefix("audit")}:audit`;
    const first = ["method", "task.create", "outcome", "ok"];
    const second = ["method", "task.complete", "outcome", "NOT_FOUND", "target", "t-9", "session", "s-1"];
    assert.equal(
      await append.run(redis, [stream], [1000, first.length, ...first, second.length, ...second]),
      2,
    );
    const entries = (await redis.xrange(stream, "-", "+")) as [string, string[]][];
    assert.deepEqual(
      entries.map(([, fields]) => fields),
      [first, second],
    );
    assert.equal(await append.run(redis, [stream], [1000]), 0, "an empty batch appends nothing");
  });

  it("keeps the stream near its cap", async () => {
    const stream = `${uniquePrefix("audit")}:audit`;
    const record = ["method", "task.update", "outcome", "ok"];
    const batch = Array.from({ length: 500 }, () => [record.length, ...record]).flat();
    for (let i = 0; i < 4; i++) await append.run(redis, [stream], [200, ...batch]);
    const length = await redis.xlen(stream);
    assert.ok(length >= 200 && length < 500, `length ${length}`);
  });
});
