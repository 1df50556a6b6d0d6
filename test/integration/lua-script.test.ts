import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import type { Task } from "../../src/contract/tasks.js";
import { DEFAULT_QUEUE_SETTINGS, TaskQueue } from "../../src/domain/tasks/queue.js";
import { createKeys } from "../../src/storage/keys.js";
import { execPipeline, LuaScript, writeScriptsPerTurn } from "../../src/storage/lua-script.js";
import { coordinationLuaScripts } from "../../src/storage/scripts.js";
import { type TestRedis, uniquePrefix, useTestRedis } from "../helpers/redis.js";
import { rpc, startTestServer } from "../helpers/server.js";

/**
 * Scripts are sent by SHA1 (EVALSHA) and by source only when Redis does not know them. Redis
 * forgets them when it restarts or on SCRIPT FLUSH: the next calls must still work, alone and
 * in pipelines, in the library and in a running server. This file's redis-server is its own,
 * so flushing its script cache disturbs no other test.
 */

let server: TestRedis;
let redis: Redis;
useTestRedis((started) => ({ server, redis } = started), { enableAutoPipelining: true });

const known = async (script: LuaScript) => ((await redis.script("EXISTS", script.sha)) as number[])[0] === 1;

// A script whose text is unique to this run, so no earlier call has cached it.
const counter = () =>
  new LuaScript("counter", `-- ${uniquePrefix("lua")}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])`);

describe("LuaScript.run", () => {
  it("works when Redis does not know the script, and caches it", async () => {
    const script = counter();
    const key = uniquePrefix("k");
    assert.equal(await known(script), false);
    assert.equal(await script.run(redis, [key], [2]), 2);
    assert.equal(await known(script), true);
    assert.equal(await script.run(redis, [key], [3]), 5);
  });

  it("still works after SCRIPT FLUSH, and runs the script once per call", async () => {
    const script = counter();
    const key = uniquePrefix("k");
    await script.load(redis);
    assert.equal(await known(script), true);
    await redis.script("FLUSH");
    assert.equal(await known(script), false);
    assert.equal(await script.run(redis, [key], [1]), 1);
    assert.equal(await redis.get(key), "1");
  });

  it("passes other errors on without running the script again", async () => {
    const failing = new LuaScript(
      "failing",
      `-- ${uniquePrefix("lua")}\nredis.call('INCR', KEYS[1])\nreturn redis.error_reply('BROKEN on purpose')`,
    );
    const key = uniquePrefix("k");
    await assert.rejects(failing.run(redis, [key], []), /BROKEN on purpose/);
    assert.equal(await redis.get(key), "1");
    await assert.rejects(failing.run(redis, [key], []), /BROKEN on purpose/);
    assert.equal(await redis.get(key), "2");
  });
});

describe("LuaScript.run on an auto-pipelining connection", () => {
  it("keeps the order of calls among themselves and with other (auto-pipelined) commands", async () => {
    const append = new LuaScript(
      "append",
      `-- ${uniquePrefix("lua")}\nreturn redis.call('RPUSH', KEYS[1], ARGV[1])`,
    );
    const key = uniquePrefix("k");
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 300; i++) {
      // every third element through a plain command, which ioredis auto-pipelines
      calls.push(i % 3 === 1 ? redis.rpush(key, String(i)) : append.run(redis, [key], [i]));
      // now and then let replies arrive, so that later calls find the connection idle or busy
      if (i % 37 === 0) await calls[i];
    }
    assert.deepEqual(
      await Promise.all(calls),
      Array.from({ length: 300 }, (_, i) => i + 1),
    );
    assert.deepEqual(
      await redis.lrange(key, 0, -1),
      Array.from({ length: 300 }, (_, i) => String(i)),
    );
  });

  it("after writeScriptsPerTurn, writes the calls of one turn of the event loop at once", async () => {
    // Ten calls from ten timers due together: one timers phase, each call in its own callback
    // (with its own end of tick), like ten HTTP requests that arrive together. Redis counts the
    // reads it makes from clients; `observer` asks on a connection of its own. (Without
    // writeScriptsPerTurn these are ten writes, and usually ten reads: how many reads Redis needs
    // for them depends on how busy it is, so only the batched case is asserted.)
    const observer = new Redis(server.url);
    const sender = new Redis(server.url, { enableAutoPipelining: true });
    try {
      writeScriptsPerTurn(sender);
      const script = counter();
      const key = uniquePrefix("k");
      await script.load(sender);
      await sender.ping();
      const reads = async () =>
        Number(/total_reads_processed:(\d+)/.exec(await observer.info("stats"))?.[1] ?? Number.NaN);
      const before = await reads();
      const answers = await Promise.all(
        Array.from(
          { length: 10 },
          () =>
            new Promise((resolve, reject) =>
              setTimeout(() => script.run(sender, [key], [1]).then(resolve, reject), 0),
            ),
        ),
      );
      const during = (await reads()) - before - 1; // less the read of the second INFO
      assert.deepEqual(
        answers.map(Number).sort((a, b) => a - b),
        Array.from({ length: 10 }, (_, i) => i + 1),
      );
      assert.ok(
        during <= 2,
        `Redis made ${during} reads for ten calls of one turn; one write needs one or two`,
      );
    } finally {
      observer.disconnect();
      sender.disconnect();
    }
  });

  it("applies the connection's key prefix to the script's keys either way", async () => {
    const prefixed = new Redis(server.url, { enableAutoPipelining: true, keyPrefix: "pfx:" });
    try {
      const script = counter();
      const key = uniquePrefix("k");
      assert.equal(await script.run(prefixed, [key], [1]), 1); // alone: straight out
      await Promise.all([1, 2, 3].map(() => script.run(prefixed, [key], [1]))); // concurrent: batched
      assert.equal(await redis.get(`pfx:${key}`), "4");
      assert.equal(await redis.exists(key), 0);
    } finally {
      prefixed.disconnect();
    }
  });
});

describe("LuaScript.queue + execPipeline", () => {
  it("answers every queued script in its place after SCRIPT FLUSH; errors of the scripts stay errors", async () => {
    const add = counter();
    const other = new LuaScript("other", `-- ${uniquePrefix("lua")}\nreturn 'other:' .. ARGV[1]`);
    const failing = new LuaScript("failing", `-- ${uniquePrefix("lua")}\nreturn redis.error_reply('NOPE')`);
    for (const script of [add, other, failing]) await script.load(redis);
    await redis.script("FLUSH");
    const key = uniquePrefix("k");
    const pipeline = redis.pipeline();
    add.queue(pipeline, [key], [10]);
    pipeline.get(key);
    other.queue(pipeline, [], ["x"]);
    failing.queue(pipeline, [], []);
    add.queue(pipeline, [key], [5]);
    const results = await execPipeline(redis, pipeline);
    assert.equal(results.length, 5);
    assert.deepEqual(results[0], [null, 10]);
    // the plain GET ran in the first round trip, before the re-sent scripts
    assert.deepEqual(results[1], [null, null]);
    assert.deepEqual(results[2], [null, "other:x"]);
    assert.match(String(results[3]?.[0]), /NOPE/);
    assert.deepEqual(results[4], [null, 15]);
    assert.equal(await redis.get(key), "15");

    // cached again: the same pipeline goes through in one round trip
    const again = redis.pipeline();
    add.queue(again, [key], [1]);
    assert.deepEqual(await execPipeline(redis, again), [[null, 16]]);
  });
});

describe("coordination scripts after SCRIPT FLUSH", () => {
  it("TaskQueue: single calls and the pipelined maintenance and bulk delete keep working", async () => {
    const queue = new TaskQueue(redis, createKeys(uniquePrefix("lq")), "test", 1000, DEFAULT_QUEUE_SETTINGS);
    await queue.scripts.load();
    for (const script of coordinationLuaScripts().values())
      assert.equal(await known(script), true, script.name);

    await redis.script("FLUSH");
    const { task: due } = await queue.create({ text: "soon", priority: 50, maxAttempts: 3, delayMs: 1 });
    await sleep(20);
    await redis.script("FLUSH");
    const done = await queue.maintain(100, 0);
    assert.equal(done.promoted, 1);
    const [claimed] = await queue.claim({ workerId: "w1", count: 1 });
    assert.equal(claimed?.id, due.id);

    await queue.create({ text: "a", priority: 50, maxAttempts: 3 });
    await queue.create({ text: "b", priority: 50, maxAttempts: 3 });
    await redis.script("FLUSH");
    assert.equal((await queue.deleteWhere("pending", undefined, 10)).length, 2);
    assert.equal(await redis.zcard(queue.q.pending), 0);
  });

  it("a running server: calls over HTTP and its maintenance loop go on after SCRIPT FLUSH", async () => {
    const api = await startTestServer({ redisUrl: server.url });
    try {
      const call = async <T>(method: string, params: Record<string, unknown>): Promise<T> => {
        const { body } = await rpc(api.url, { jsonrpc: "2.0", id: 1, method, params });
        assert.ok(body.result, `${method}: ${JSON.stringify(body)}`);
        return body.result as T;
      };
      await redis.script("FLUSH");
      const created = await call<{ id: string }>("task.create", { text: "after flush", delay: 50 });
      await redis.script("FLUSH");
      // only the maintenance loop (a pipeline of scripts) makes the delayed task claimable
      let claim: { claimed: boolean; task?: Task; token?: number } = { claimed: false };
      for (let i = 0; i < 100 && !claim.claimed; i++) {
        await sleep(100);
        claim = await call("task.claim", { workerId: "w1" });
      }
      assert.equal(claim.task?.id, created.id);
      await redis.script("FLUSH");
      const completed = await call<{ status: string }>("task.complete", {
        id: created.id,
        workerId: "w1",
        token: claim.token,
      });
      assert.equal(completed.status, "completed");
    } finally {
      await api.close();
    }
  });
});
