import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";
import { rpc, startTestServer } from "../helpers/server.js";

/**
 * system.activity against a real server and Redis: headline figures over a recent window
 * (the server's clock is the test's, moved by hand: no sleeps), the minutes of the last hour,
 * the tasks completed and failed per minute, and the queue with each worker's load.
 */

type Server = Awaited<ReturnType<typeof startTestServer>>;

interface Figures {
  calls: number;
  errors: number;
  errorsByCode: Record<string, number>;
  latency: { p50Ms: number; p95Ms: number; p99Ms: number; maxMs: number } | null;
}

interface Activity {
  now: number;
  window: Figures & { minutes: number; since: number; methods: (Figures & { method: string })[] };
  perMinute: Record<"t" | "calls" | "errors" | "completed" | "failed", number[]> &
    Record<"p50Ms" | "p95Ms" | "p99Ms", (number | null)[]>;
  queue: {
    intervalMs: number;
    t: number[];
    byStatus: Record<string, number[]>;
    workers: { workerId: string; held: number[] }[];
  };
}

let rpcId = 0;
async function call<T = Record<string, unknown>>(
  server: Server,
  method: string,
  params: Record<string, unknown> = {},
): Promise<{ result?: T; error?: { code: number; data: { code: string } } }> {
  return (await rpc(server.url, { jsonrpc: "2.0", id: ++rpcId, method, params })).body;
}

async function ok<T = Record<string, unknown>>(
  server: Server,
  method: string,
  params: Record<string, unknown> = {},
): Promise<T> {
  const { result, error } = await call<T>(server, method, params);
  assert.equal(error, undefined, `${method}: ${JSON.stringify(error)}`);
  return result as T;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const last = <T>(xs: T[]) => xs[xs.length - 1] as T;

describe("system.activity", () => {
  let redis: TestRedis;
  let server: Server;
  let now = Date.now();

  before(async () => {
    redis = await startTestRedis();
    server = await startTestServer({ redisUrl: redis.url, clock: () => now });
  });

  after(async () => {
    await server?.close();
    await redis?.stop();
  });

  it("gives headline figures over the last minutes, per method: older calls drop out of the window", async () => {
    for (let i = 0; i < 3; i++) await ok(server, "system.health");
    const early = await ok<Activity>(server, "system.activity");
    assert.equal(early.window.methods.find((m) => m.method === "system.health")?.calls, 3);

    now += 10 * 60_000; // ten minutes later
    await ok(server, "task.create", { text: "recent" });
    assert.equal((await call(server, "task.create", { text: "" })).error?.data.code, "VALIDATION");
    const activity = await ok<Activity>(server, "system.activity", { windowMinutes: 5 });

    assert.equal(activity.now, now);
    assert.equal(activity.window.minutes, 5);
    assert.equal(activity.window.since, Math.floor(now / 60_000) * 60_000 - 4 * 60_000);
    const methods = Object.fromEntries(activity.window.methods.map((m) => [m.method, m]));
    assert.equal(methods["system.health"], undefined, "the health checks are older than the window");
    assert.equal(methods["task.create"]?.calls, 2);
    assert.deepEqual(methods["task.create"]?.errorsByCode, { VALIDATION: 1 });
    assert.ok(methods["task.create"]?.latency && methods["task.create"].latency.p99Ms > 0);
    assert.equal(activity.window.errors, 1);

    // The hour minute by minute still holds the health checks, ten minutes back.
    const { perMinute } = activity;
    assert.equal(perMinute.t.length, 60);
    assert.equal(last(perMinute.t), Math.floor(now / 60_000) * 60_000);
    assert.equal(perMinute.calls[60 - 11], 4, "three health checks and the first activity call");
    assert.equal(perMinute.p99Ms[60 - 5], null, "a quiet minute has no latency");
    assert.equal(last(perMinute.calls), 2);
    const health = await ok<Activity>(server, "system.activity", { method: "system.health", minutes: 15 });
    assert.equal(health.perMinute.t.length, 15);
    assert.equal(sum(health.perMinute.calls), 3);
  });

  it("counts tasks completed and failed per minute and samples the queue with each worker's load", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await ok<{ id: string }>(server, "task.create", { text: `job ${i}` })).id);
    await ok(server, "task.create", { text: "waiting", priority: 1 });
    const { tasks } = await ok<{ tasks: { id: string }[] }>(server, "task.claim", {
      workerId: "w-busy",
      maxTasks: 4,
    });
    assert.equal(tasks.length, 4);
    await ok(server, "task.complete", { id: tasks[0]?.id, workerId: "w-busy" });
    await ok(server, "task.fail", { id: tasks[1]?.id, workerId: "w-busy", error: "no", retryable: false });
    await ok(server, "task.create", { text: "new" });

    const { perMinute, queue } = await ok<Activity>(server, "system.activity");
    // The counters are dated by Redis' clock, not the test's (ten minutes ahead): summed over the hour.
    assert.equal(sum(perMinute.completed), 1);
    assert.equal(sum(perMinute.failed), 1);
    assert.equal(queue.intervalMs, 10_000);
    assert.equal(queue.t.length, queue.byStatus.pending?.length);
    assert.equal(last(queue.t), now, "the last sample is read at the call");
    assert.deepEqual(
      Object.fromEntries(Object.entries(queue.byStatus).map(([status, values]) => [status, last(values)])),
      { pending: 2, in_progress: 2, completed: 1, failed: 1, cancelled: 0 },
    );
    assert.deepEqual(
      queue.workers.map((w) => [w.workerId, last(w.held)]),
      [["w-busy", 2]],
    );
  });

  it("refuses a span or window outside 1..60 minutes and an oversized method name", async () => {
    for (const params of [
      { minutes: 0 },
      { minutes: 61 },
      { windowMinutes: 0 },
      { windowMinutes: 1.5 },
      { method: "" },
      { method: "m".repeat(201) },
    ]) {
      const { error } = await call(server, "system.activity", params);
      assert.equal(error?.code, -32602, JSON.stringify(params));
      assert.equal(error?.data.code, "VALIDATION");
    }
  });
});
