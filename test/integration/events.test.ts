import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { JsonRpcSuccess } from "../../src/contract/jsonrpc.js";
import { builtinHandlers } from "../../src/handlers/index.js";
import { testHandlers } from "../helpers/handlers.js";
import { startTestRedis, type TestRedis, uniquePrefix } from "../helpers/redis.js";
import { post, rpc, startTestServer } from "../helpers/server.js";
import { SseReader } from "../helpers/sse.js";

type Server = Awaited<ReturnType<typeof startTestServer>>;

const handlers = [...builtinHandlers, ...testHandlers];

/** Emits one event through the test.emit handler over JSON-RPC; returns its stream id. */
async function emit(server: Server, event: string, payload: Record<string, unknown> = {}): Promise<string> {
  const res = await rpc(server.url, {
    jsonrpc: "2.0",
    id: 1,
    method: "test.emit",
    params: { event, payload },
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return ((res.body as JsonRpcSuccess).result as { id: string }).id;
}

describe("domain events over SSE", () => {
  let redis: TestRedis;
  let first: Server;
  let second: Server;
  const readers: SseReader[] = [];

  const open = async (server: Server, query = "", headers: Record<string, string> = {}) => {
    const reader = await SseReader.open(`${server.url}/events${query}`, headers);
    readers.push(reader);
    return reader;
  };

  before(async () => {
    redis = await startTestRedis();
    const keyPrefix = uniquePrefix("ev");
    [first, second] = await Promise.all([
      startTestServer({ redisUrl: redis.url, keyPrefix, instanceId: "ev-1", handlers }),
      startTestServer({ redisUrl: redis.url, keyPrefix, instanceId: "ev-2", handlers }),
    ]);
  });

  after(async () => {
    await Promise.all(readers.map((r) => r.close()));
    await Promise.all([first?.close(), second?.close()]);
    await redis?.stop();
  });

  it("delivers ctx.emit to subscribers of the same and of another server", async () => {
    const [local, remote] = await Promise.all([
      open(first, "?prefix=fanout."),
      open(second, "?prefix=fanout."),
    ]);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await emit(first, "fanout.tick", { i }));

    for (const reader of [local, remote]) {
      const messages = await reader.waitFor(5);
      assert.equal(messages.length, 5);
      assert.deepEqual(
        messages.map((m) => m.id),
        ids,
      );
      const events = reader.events();
      assert.deepEqual(
        events.map((e) => e.payload),
        [0, 1, 2, 3, 4].map((i) => ({ i })),
      );
      for (const [n, e] of events.entries()) {
        assert.equal(e.id, ids[n]);
        assert.equal(e.event, "fanout.tick");
        assert.equal(e.source, "ev-1");
      }
    }
  });

  it("filters by ?prefix=", async () => {
    const [tasks, hooksAndTasks, all] = await Promise.all([
      open(second, "?prefix=filt.task."),
      open(second, "?prefix=filt.hook.,filt.task.created"),
      open(first, "?prefix=filt."),
    ]);
    await emit(first, "filt.task.created", { n: 1 });
    await emit(second, "filt.hook.pre_tool", { n: 2 });
    await emit(first, "filt.other", { n: 3 });
    await emit(second, "filt.task.updated", { n: 4 });

    await all.waitFor(4);
    assert.deepEqual(
      all.events().map((e) => e.event),
      ["filt.task.created", "filt.hook.pre_tool", "filt.other", "filt.task.updated"],
    );
    await tasks.waitFor(2);
    await hooksAndTasks.waitFor(2);
    // events reach a tail in stream order: once n=5 is in, nothing before it can still come
    const last = await emit(first, "filt.task.created", { n: 5 });
    await tasks.waitFor(3);
    await hooksAndTasks.waitFor(3);
    assert.deepEqual(
      tasks.events().map((e) => e.payload.n),
      [1, 4, 5],
    );
    assert.deepEqual(
      hooksAndTasks.events().map((e) => e.payload.n),
      [1, 2, 5],
    );
    assert.equal(tasks.messages.at(-1)?.id, last);
  });

  it("replays missed events after Last-Event-ID without gaps or duplicates", async () => {
    const before = await open(second, "?prefix=resume.");
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) seen.push(await emit(first, "resume.e", { i }));
    await before.waitFor(3);
    const lastSeen = before.messages.at(-1)?.id as string;
    assert.equal(lastSeen, seen[2]);
    await before.close();

    // missed while disconnected
    const missed: string[] = [];
    for (let i = 3; i < 8; i++) missed.push(await emit(first, "resume.e", { i }));
    // more, emitted while the client reconnects (replay and live feed meet here)
    const during = Promise.all(
      Array.from({ length: 20 }, (_, k) => emit(k % 2 ? first : second, "resume.e", { i: 8 + k })),
    );
    const after = await open(second, "?prefix=resume.", { "last-event-id": lastSeen });
    const duringIds = await during;
    const later = [await emit(second, "resume.e", { i: 28 })];

    const expected = [...missed, ...duringIds, ...later];
    const messages = await after.waitFor(expected.length);
    const got = messages.map((m) => m.id as string);
    assert.equal(new Set(got).size, got.length, "a duplicate event");
    assert.deepEqual(got, [...expected].sort(byStreamId));
    // nothing at or before Last-Event-ID
    assert.ok(!got.includes(lastSeen));
    assert.equal(got.length, 26);
  });

  it("delivers an event emitted right after a client connects to a cold server", async () => {
    // a fresh server whose event tail has not started yet
    const cold = await startTestServer({
      redisUrl: redis.url,
      keyPrefix: first.config.keyPrefix,
      instanceId: "ev-cold",
      handlers,
    });
    try {
      const reader = await open(cold, "?prefix=cold.");
      const id = await emit(first, "cold.start", {});
      const [message] = await reader.waitFor(1);
      assert.equal(message?.id, id);
    } finally {
      await cold.close();
    }
  });
});

function byStreamId(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split("-").map(Number);
  const [bMs = 0, bSeq = 0] = b.split("-").map(Number);
  return aMs - bMs || aSeq - bSeq;
}

describe("health and metrics", () => {
  let redis: TestRedis;

  before(async () => {
    redis = await startTestRedis();
  });

  after(async () => {
    await redis?.stop();
  });

  it("reports degraded when the configured database is unreachable", async () => {
    const server = await startTestServer({
      redisUrl: redis.url,
      handlers,
      overrides: { databaseUrl: "postgres://127.0.0.1:1/none" },
    });
    try {
      assert.match(server.database, /^PostgreSQL postgres:\/\/127\.0\.0\.1:1\/none \(DATABASE_URL\)$/);
      const res = await rpc(server.url, { jsonrpc: "2.0", id: 1, method: "system.health" });
      const health = (res.body as JsonRpcSuccess).result as {
        status: string;
        services: Record<string, boolean>;
        checks: { redis: { ok: boolean }; database: { ok: boolean; configured: boolean; error?: string } };
      };
      assert.equal(health.status, "degraded");
      assert.deepEqual(health.services, { redis: true, postgres: false, mcp: true });
      assert.equal(health.checks.redis.ok, true);
      assert.equal(health.checks.database.ok, false);
      assert.equal(health.checks.database.configured, true);
      assert.equal(typeof health.checks.database.error, "string");

      const liveness = await fetch(`${server.url}/health`);
      assert.equal(liveness.status, 200);
      assert.equal(((await liveness.json()) as { status: string }).status, "degraded");
    } finally {
      await server.close();
    }
  });

  it("reports healthy without a database configured", async () => {
    const server = await startTestServer({ redisUrl: redis.url, handlers });
    try {
      const res = await post(server.url, "/system/health", {});
      assert.equal(res.status, 200);
      assert.equal(res.body.status, "healthy");
      assert.deepEqual(res.body.services, { redis: true, postgres: false, mcp: true });
      assert.equal(res.body.checks.database.configured, false);
      assert.equal(res.body.instanceId, server.instanceId);
    } finally {
      await server.close();
    }
  });

  it("counts calls and errors by code", async () => {
    const server = await startTestServer({ redisUrl: redis.url, handlers });
    try {
      const call = (method: string, params: unknown = {}) =>
        rpc(server.url, { jsonrpc: "2.0", id: 1, method, params });
      for (let i = 0; i < 3; i++) await call("system.ping");
      await call("test.not_found");
      await call("test.not_found");
      await post(server.url, "/test/not_found", {});
      await call("test.crash");
      await call("system.metrics", { detailed: "yes" });
      await call("nope.nothing"); // never reaches a handler: not counted

      const res = await call("system.metrics", { detailed: true });
      const metrics = (res.body as JsonRpcSuccess).result as {
        eventsProcessed: number;
        errors: number;
        instanceId: string;
        methods: Record<string, { calls: number; errors: number; errorsByCode: Record<string, number> }>;
      };
      assert.equal(metrics.instanceId, server.instanceId);
      assert.equal(metrics.eventsProcessed, 8);
      assert.equal(metrics.errors, 5);
      const { methods } = metrics;
      assert.deepEqual(Object.keys(methods).sort(), [
        "system.metrics",
        "system.ping",
        "test.crash",
        "test.not_found",
      ]);
      assert.equal(methods["system.ping"]?.calls, 3);
      assert.equal(methods["system.ping"]?.errors, 0);
      assert.deepEqual(methods["system.ping"]?.errorsByCode, {});
      assert.equal(methods["test.not_found"]?.calls, 3);
      assert.deepEqual(methods["test.not_found"]?.errorsByCode, { NOT_FOUND: 3 });
      assert.deepEqual(methods["test.crash"]?.errorsByCode, { INTERNAL: 1 });
      assert.deepEqual(methods["system.metrics"]?.errorsByCode, { VALIDATION: 1 });

      const brief = await call("system.metrics");
      const summary = (brief.body as JsonRpcSuccess).result as Record<string, unknown>;
      assert.equal(summary.methods, undefined);
      assert.equal(summary.eventsProcessed, 9);
    } finally {
      await server.close();
    }
  });
});
