import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { Redis } from "ioredis";
import { RedisRpcClient } from "../../src/client/redis-rpc.js";
import type { JsonRpcFailure, JsonRpcSuccess } from "../../src/contract/jsonrpc.js";
import { builtinHandlers } from "../../src/handlers/index.js";
import { createKeys } from "../../src/storage/keys.js";
import { counterKey, testHandlers } from "../helpers/handlers.js";
import { type TestRedis, uniquePrefix, useTestRedis } from "../helpers/redis.js";
import { startTestServer } from "../helpers/server.js";

type Server = Awaited<ReturnType<typeof startTestServer>>;

const handlers = [...builtinHandlers, ...testHandlers];

/** Polls `check` until it holds (the deadline only bounds a failing test). */
async function eventually(check: () => Promise<boolean>, what: string, deadlineMs = 5000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("the Redis request stream", () => {
  let redis: TestRedis;
  let admin: Redis;

  useTestRedis((started) => {
    redis = started.server;
    admin = started.redis;
  });

  /** Waits until every entry on the request stream has been executed, answered and removed. */
  async function drained(prefix: string): Promise<void> {
    const keys = createKeys(prefix);
    await eventually(async () => {
      const [length, pending] = await Promise.all([
        admin.xlen(keys.rpcRequests()),
        admin.xpending(keys.rpcRequests(), keys.rpcGroup) as Promise<[number, ...unknown[]]>,
      ]);
      return length === 0 && pending[0] === 0;
    }, "the request stream to drain");
  }

  it("executes each request exactly once across two servers and answers each once", async () => {
    const keyPrefix = uniquePrefix("rs");
    const servers: Server[] = [];
    const client = new RedisRpcClient(redis.url, keyPrefix);
    try {
      servers.push(
        ...(await Promise.all([
          startTestServer({ redisUrl: redis.url, keyPrefix, instanceId: "srv-a", handlers }),
          startTestServer({ redisUrl: redis.url, keyPrefix, instanceId: "srv-b", handlers }),
        ])),
      );
      const replies = await Promise.all(Array.from({ length: 200 }, () => client.call("test.incr")));

      assert.equal(replies.length, 200);
      const counts = new Set<number>();
      const byInstance = new Map<string, number>();
      const ids = new Set<unknown>();
      for (const reply of replies) {
        assert.ok("result" in reply, JSON.stringify(reply));
        const { count, instanceId } = (reply as JsonRpcSuccess).result as {
          count: number;
          instanceId: string;
        };
        counts.add(count);
        ids.add(reply.id);
        byInstance.set(instanceId, (byInstance.get(instanceId) ?? 0) + 1);
      }
      assert.equal(ids.size, 200, "every reply answers a different request");
      assert.equal(counts.size, 200, "every execution saw a different counter value");
      assert.equal(Math.max(...counts), 200);
      assert.equal(String(await admin.llen(counterKey(keyPrefix))), "200");
      assert.deepEqual([...byInstance.keys()].sort(), ["srv-a", "srv-b"]);

      await drained(keyPrefix);
      // a second reply to any request would still sit on its reply list
      const leftover = await admin.keys(`${keyPrefix}:rpc:reply:*`);
      assert.deepEqual(leftover, []);
      assert.equal(String(await admin.llen(counterKey(keyPrefix))), "200");
    } finally {
      await client.close();
      await Promise.all(servers.map((s) => s.close()));
    }
  });

  it("serves requests queued before any server was running", async () => {
    const keyPrefix = uniquePrefix("rs");
    const client = new RedisRpcClient(redis.url, keyPrefix);
    let server: Server | undefined;
    try {
      const pending = Promise.all([client.call("test.incr"), client.call("system.ping")]);
      // make sure both requests are on the stream before the server starts
      await eventually(
        async () => (await admin.xlen(createKeys(keyPrefix).rpcRequests())) === 2,
        "2 entries",
      );
      server = await startTestServer({ redisUrl: redis.url, keyPrefix, handlers });
      const [incr, ping] = await pending;
      assert.equal(((incr as JsonRpcSuccess).result as { count: number }).count, 1);
      assert.equal(((ping as JsonRpcSuccess).result as { pong: boolean }).pong, true);
    } finally {
      await client.close();
      await server?.close();
    }
  });

  it("executes a notification and replies nothing", async () => {
    const keyPrefix = uniquePrefix("rs");
    const keys = createKeys(keyPrefix);
    const client = new RedisRpcClient(redis.url, keyPrefix);
    const server = await startTestServer({ redisUrl: redis.url, keyPrefix, handlers });
    try {
      const replyTo = `notify-${randomUUID()}`;
      // a notification (no id) even with a replyTo, and a request without a replyTo
      await client.send({ jsonrpc: "2.0", method: "test.incr" }, replyTo);
      await client.send({ jsonrpc: "2.0", id: 1, method: "test.incr" });
      await client.send({ jsonrpc: "2.0", method: "test.crash" }, replyTo);
      await drained(keyPrefix);
      assert.equal(String(await admin.llen(counterKey(keyPrefix))), "2");
      assert.equal(await admin.exists(keys.rpcReply(replyTo)), 0);
      assert.deepEqual(await admin.keys(`${keyPrefix}:rpc:reply:*`), []);
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("answers an unparseable entry with -32700", async () => {
    const keyPrefix = uniquePrefix("rs");
    const keys = createKeys(keyPrefix);
    const client = new RedisRpcClient(redis.url, keyPrefix);
    const server = await startTestServer({ redisUrl: redis.url, keyPrefix, handlers });
    const waiter = admin.duplicate();
    try {
      const replyTo = `bad-${randomUUID()}`;
      await client.send('{"jsonrpc":"2.0","id":1,"method":', replyTo);
      const reply = await waiter.blpop(keys.rpcReply(replyTo), 5);
      assert.ok(reply, "no reply to the unparseable entry");
      const body = JSON.parse(reply[1]) as JsonRpcFailure;
      assert.equal(body.jsonrpc, "2.0");
      assert.equal(body.id, null);
      assert.equal(body.error.code, -32700);

      // an entry without a request field at all is not JSON either
      const replyTo2 = `empty-${randomUUID()}`;
      await admin.xadd(keys.rpcRequests(), "*", "replyTo", replyTo2);
      const reply2 = await waiter.blpop(keys.rpcReply(replyTo2), 5);
      assert.equal((JSON.parse(reply2?.[1] ?? "{}") as JsonRpcFailure).error.code, -32700);

      // the consumer goes on serving after bad entries
      const ok = await client.call("system.ping");
      assert.equal(((ok as JsonRpcSuccess).result as { pong: boolean }).pong, true);
      await drained(keyPrefix);
    } finally {
      waiter.disconnect();
      await client.close();
      await server.close();
    }
  });

  it("refuses a request over MAX_BODY_BYTES and a batch over RPC_BATCH_MAX, as over HTTP", async () => {
    const keyPrefix = uniquePrefix("rs");
    const keys = createKeys(keyPrefix);
    const client = new RedisRpcClient(redis.url, keyPrefix);
    const server = await startTestServer({
      redisUrl: redis.url,
      keyPrefix,
      handlers,
      overrides: { maxBodyBytes: 4096, rpcBatchMax: 5 },
    });
    const waiter = admin.duplicate();
    try {
      const big = `big-${randomUUID()}`;
      await client.send({ jsonrpc: "2.0", id: 1, method: "test.echo", params: { x: "y".repeat(5000) } }, big);
      const tooLarge = JSON.parse(
        (await waiter.blpop(keys.rpcReply(big), 5))?.[1] ?? "null",
      ) as JsonRpcFailure;
      assert.equal(tooLarge.error.code, -32600);
      assert.match(tooLarge.error.message, /MAX_BODY_BYTES/);

      const batch = `batch-${randomUUID()}`;
      await client.send(
        Array.from({ length: 6 }, (_, i) => ({ jsonrpc: "2.0", id: i, method: "test.incr" })),
        batch,
      );
      const over = JSON.parse((await waiter.blpop(keys.rpcReply(batch), 5))?.[1] ?? "null") as JsonRpcFailure;
      assert.equal(over.error.code, -32600);
      assert.match(over.error.message, /RPC_BATCH_MAX/);
      await drained(keyPrefix);
    } finally {
      waiter.disconnect();
      await client.close();
      await server.close();
    }
  });

  it("answers a batch on the stream with an array", async () => {
    const keyPrefix = uniquePrefix("rs");
    const keys = createKeys(keyPrefix);
    const client = new RedisRpcClient(redis.url, keyPrefix);
    const server = await startTestServer({ redisUrl: redis.url, keyPrefix, handlers });
    const waiter = admin.duplicate();
    try {
      const replyTo = `batch-${randomUUID()}`;
      await client.send(
        [
          { jsonrpc: "2.0", id: "a", method: "test.echo", params: { x: 1 } },
          { jsonrpc: "2.0", method: "test.incr" },
          { jsonrpc: "2.0", id: "b", method: "nope.nothing" },
        ],
        replyTo,
      );
      const reply = await waiter.blpop(keys.rpcReply(replyTo), 5);
      const body = JSON.parse(reply?.[1] ?? "null") as (JsonRpcSuccess | JsonRpcFailure)[];
      assert.ok(Array.isArray(body));
      assert.equal(body.length, 2);
      const byId = new Map(body.map((r) => [r.id, r]));
      assert.deepEqual((byId.get("a") as JsonRpcSuccess).result, { x: 1 });
      assert.equal((byId.get("b") as JsonRpcFailure).error.code, -32601);
    } finally {
      waiter.disconnect();
      await client.close();
      await server.close();
    }
  });

  it("executes a resent request (same replyTo) once and answers the resend with the same reply", async () => {
    const keyPrefix = uniquePrefix("rs");
    const keys = createKeys(keyPrefix);
    const server = await startTestServer({ redisUrl: redis.url, keyPrefix, handlers });
    const client = new RedisRpcClient(redis.url, keyPrefix);
    try {
      const replyTo = randomUUID();
      const request = { jsonrpc: "2.0", id: 7, method: "test.incr", params: {} };
      await client.send(request, replyTo);
      await client.send(request, replyTo);
      await drained(keyPrefix);
      const replies = await admin.lrange(keys.rpcReply(replyTo), 0, -1);
      assert.equal(replies.length, 2, "each delivery is answered");
      assert.equal(replies[0], replies[1], "with the same reply");
      assert.equal(String(await admin.llen(counterKey(keyPrefix))), "1", "the effect happened once");
    } finally {
      await client.close();
      await server.close();
    }
  });

  it("takes over requests a dead consumer read but never acknowledged, and executes them once", async () => {
    const keyPrefix = uniquePrefix("rs");
    const keys = createKeys(keyPrefix);
    const server = await startTestServer({
      redisUrl: redis.url,
      keyPrefix,
      handlers,
      overrides: { requestClaimIdleMs: 300 },
    });
    const client = new RedisRpcClient(redis.url, keyPrefix);
    const ghost = new Redis(redis.url);
    try {
      await server.close(); // nobody consumes while the ghost takes the entries
      const replyTos = Array.from({ length: 5 }, () => randomUUID());
      for (const [i, replyTo] of replyTos.entries()) {
        await client.send({ jsonrpc: "2.0", id: i, method: "test.incr", params: {} }, replyTo);
      }
      // A consumer that reads them and dies without acknowledging.
      const read = (await ghost.xreadgroup(
        "GROUP",
        keys.rpcGroup,
        "ghost",
        "COUNT",
        10,
        "STREAMS",
        keys.rpcRequests(),
        ">",
      )) as [string, unknown[]][] | null;
      assert.equal(read?.[0]?.[1].length, 5);
      const revived = await startTestServer({
        redisUrl: redis.url,
        keyPrefix,
        handlers,
        overrides: { requestClaimIdleMs: 300 },
      });
      try {
        await drained(keyPrefix);
        for (const replyTo of replyTos) {
          assert.equal(await admin.llen(keys.rpcReply(replyTo)), 1, "one reply each");
        }
        assert.equal(String(await admin.llen(counterKey(keyPrefix))), "5");
      } finally {
        await revived.close();
      }
    } finally {
      await ghost.quit();
      await client.close();
    }
  });
});
