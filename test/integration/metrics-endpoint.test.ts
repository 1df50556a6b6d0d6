import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { pino } from "pino";
import { createKeys } from "../../src/storage/keys.js";
import { type ParsedFamily, parsePrometheus, sampleValue } from "../helpers/prometheus.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";
import { post, rpc, startTestServer } from "../helpers/server.js";

/**
 * GET /metrics against a real server and Redis: the document parses as Prometheus text,
 * call counters move by exactly the calls made, histograms are cumulative, queue gauges
 * match the queue, and the endpoint needs the token. Then the call logs' bindings.
 */

type Server = Awaited<ReturnType<typeof startTestServer>>;

const TOKEN = "metrics-test-token-0123456789";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const H = "claudebench_call_duration_seconds";

async function scrape(server: Server): Promise<Map<string, ParsedFamily>> {
  const res = await fetch(`${server.url}/metrics`, { headers: AUTH });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  return parsePrometheus(await res.text());
}

/** Calls, errors by code and histogram count of one method in a scrape. */
function callFigures(m: Map<string, ParsedFamily>, method: string) {
  const errors: Record<string, number> = {};
  for (const s of m.get("claudebench_call_errors_total")?.samples ?? []) {
    if (s.labels.method === method) errors[s.labels.code as string] = s.value;
  }
  return {
    calls: sampleValue(m, "claudebench_calls_total", { method }),
    errors,
    count: sampleValue(m, `${H}_count`, { method }, H),
    inf: sampleValue(m, `${H}_bucket`, { method, le: "+Inf" }, H),
  };
}

let rpcId = 0;
async function call(server: Server, method: string, params: Record<string, unknown>) {
  const res = await rpc(server.url, { jsonrpc: "2.0", id: ++rpcId, method, params }, AUTH);
  return res.body as { result?: Record<string, unknown>; error?: { code: number; data: { code: string } } };
}

describe("GET /metrics", () => {
  let redis: TestRedis;
  let server: Server;
  let direct: Redis;

  before(async () => {
    redis = await startTestRedis();
    server = await startTestServer({ redisUrl: redis.url, authToken: TOKEN });
    direct = new Redis(redis.url);
  });

  after(async () => {
    direct?.disconnect();
    await server?.close();
    await redis?.stop();
  });

  it("needs the token when one is set", async () => {
    assert.equal((await fetch(`${server.url}/metrics`)).status, 401);
    const wrong = await fetch(`${server.url}/metrics`, {
      headers: { authorization: "Bearer not-the-token-at-all" },
    });
    assert.equal(wrong.status, 401);
    assert.equal((await fetch(`${server.url}/metrics`, { headers: AUTH })).status, 200);
  });

  it("counts exactly the calls made; histograms are cumulative with _count = calls; gauges match the queue", async () => {
    const before = await scrape(server);
    // a scrape is not a call: a second one moves no call counter
    const again = await scrape(server);
    for (const method of ["task.create", "task.claim", "task.fail"]) {
      assert.deepEqual(callFigures(again, method), callFigures(before, method), method);
    }

    const created: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await post(server.url, "/task/create", { text: `job ${i}` }, AUTH);
      assert.equal(res.status, 200);
      created.push(res.body.id);
    }
    const later = await post(server.url, "/task/create", { text: "later", delay: 600_000 }, AUTH);
    assert.equal(later.status, 200);
    for (let i = 0; i < 2; i++) {
      const bad = await call(server, "task.create", { text: "" });
      assert.equal(bad.error?.data.code, "VALIDATION");
    }
    const claim = await call(server, "task.claim", { workerId: "w-metrics", maxTasks: 2 });
    const claimed = ((claim.result?.tasks ?? []) as { id: string }[]).map((t) => t.id);
    assert.deepEqual(claimed, created.slice(0, 2));
    const failed = await call(server, "task.fail", {
      id: claimed[0],
      workerId: "w-metrics",
      error: "no",
      retryable: false,
    });
    assert.equal(failed.result?.deadLettered, true);
    const missing = await call(server, "task.fail", { id: "t-999999", workerId: "w-metrics", error: "x" });
    assert.equal(missing.error?.data.code, "NOT_FOUND");
    const registered = await call(server, "system.register", { id: "agent-metrics", roles: ["worker"] });
    assert.equal(registered.result?.registered, true);

    const after = await scrape(server);
    const delta = (method: string) => {
      const [a, b] = [callFigures(before, method), callFigures(after, method)];
      const errors: Record<string, number> = {};
      for (const code of new Set([...Object.keys(a.errors), ...Object.keys(b.errors)])) {
        errors[code] = (b.errors[code] ?? 0) - (a.errors[code] ?? 0);
      }
      return { calls: b.calls - a.calls, errors, count: b.count - a.count, inf: b.inf - a.inf };
    };
    assert.deepEqual(delta("task.create"), { calls: 6, errors: { VALIDATION: 2 }, count: 6, inf: 6 });
    assert.deepEqual(delta("task.claim"), { calls: 1, errors: {}, count: 1, inf: 1 });
    assert.deepEqual(delta("task.fail"), { calls: 2, errors: { NOT_FOUND: 1 }, count: 2, inf: 2 });
    assert.equal(sampleValue(after, "claudebench_rate_limited_total", { method: "task.create" }), 0);

    // every bucket of every method: cumulative, and no bucket above the count (the parser checks +Inf = _count)
    const histogram = after.get(H) as ParsedFamily;
    const methods = new Set(histogram.samples.map((s) => s.labels.method as string));
    for (const method of methods) {
      const buckets = histogram.samples
        .filter((s) => s.name === `${H}_bucket` && s.labels.method === method)
        .map((s) => s.value);
      for (let i = 1; i < buckets.length; i++)
        assert.ok((buckets[i] as number) >= (buckets[i - 1] as number));
      assert.equal(buckets[buckets.length - 1], sampleValue(after, "claudebench_calls_total", { method }));
    }

    // the queue as task.stats and Redis see it
    const stats = (await call(server, "task.stats", {})).result as {
      queueDepth: number;
      delayed: number;
      activeLeases: number;
      deadLetters: number;
      byStatus: Record<string, number>;
    };
    const gauge = (name: string, labels: Record<string, string> = {}) => sampleValue(after, name, labels);
    assert.deepEqual(
      {
        pending: gauge("claudebench_queue_pending"),
        delayed: gauge("claudebench_queue_delayed"),
        leases: gauge("claudebench_queue_active_leases"),
        dead: gauge("claudebench_queue_dead_letters"),
      },
      { pending: 1, delayed: 1, leases: 1, dead: 1 },
    );
    assert.deepEqual(
      [stats.queueDepth, stats.delayed, stats.activeLeases, stats.deadLetters],
      [gauge("claudebench_queue_pending"), gauge("claudebench_queue_delayed"), 1, 1],
    );
    for (const [status, n] of Object.entries(stats.byStatus)) {
      assert.equal(gauge("claudebench_tasks", { status }), n, `tasks{status=${status}}`);
    }
    assert.equal(stats.byStatus.pending, 2);
    assert.equal(stats.byStatus.in_progress, 1);
    assert.equal(gauge("claudebench_instances_alive"), 1);
    const keys = createKeys(server.config.keyPrefix);
    // the stream only grows while nothing else runs: read it after the scrape, compare to at most that
    const events = await direct.xlen(keys.events());
    assert.ok(gauge("claudebench_event_stream_length") > 0);
    assert.ok(gauge("claudebench_event_stream_length") <= events);
    assert.equal(gauge("claudebench_cluster_servers", { state: "member" }), 1);
    assert.equal(gauge("claudebench_redis_up"), 1);
    assert.ok(gauge("claudebench_redis_ping_seconds") > 0);
    assert.ok(gauge("claudebench_redis_ping_seconds") < 5);
    assert.ok(gauge("claudebench_process_resident_memory_bytes") > 1e6);
    assert.ok(gauge("claudebench_process_heap_used_bytes") > 1e5);
    assert.ok(gauge("claudebench_uptime_seconds") > 0);
    assert.equal(after.get("claudebench_event_loop_lag_seconds")?.samples.length, 3);
    assert.equal(after.get("claudebench_build_info")?.samples[0]?.value, 1);
  });
});

describe("call logs", () => {
  let redis: TestRedis;
  let server: Server;
  const lines: Record<string, unknown>[] = [];

  before(async () => {
    redis = await startTestRedis();
    const sink = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split("\n")) if (line) lines.push(JSON.parse(line));
        done();
      },
    });
    server = await startTestServer({ redisUrl: redis.url, log: pino({ level: "debug" }, sink) });
  });

  after(async () => {
    await server?.close();
    await redis?.stop();
  });

  const callLines = (method: string) => lines.filter((l) => l.msg === "call" && l.method === method);

  it("carry the request id, method, transport, session and instance of each call", async () => {
    await post(
      server.url,
      "/task/create",
      { text: "logged" },
      { "x-request-id": "req-log-1", "x-session-id": "s-log", "x-instance-id": "i-log" },
    );
    await rpc(server.url, {
      jsonrpc: "2.0",
      id: 1,
      method: "task.list",
      params: {},
      metadata: { sessionId: "s-rpc", correlationId: "corr-7" },
    });
    await post(server.url, "/system/ping", {});
    await post(server.url, "/system/ping", {});

    const [create] = callLines("task.create");
    assert.deepEqual(
      {
        requestId: create?.requestId,
        transport: create?.transport,
        sessionId: create?.sessionId,
        instanceId: create?.instanceId,
        outcome: create?.outcome,
      },
      { requestId: "req-log-1", transport: "http", sessionId: "s-log", instanceId: "i-log", outcome: "ok" },
    );
    assert.equal(typeof create?.ms, "number");
    const [list] = callLines("task.list");
    assert.deepEqual([list?.requestId, list?.transport, list?.sessionId], ["corr-7", "jsonrpc", "s-rpc"]);
    // without an id from the caller: this server's id and a counter, different per call
    const pings = callLines("system.ping").map((l) => l.requestId as string);
    assert.equal(pings.length, 2);
    for (const id of pings) assert.match(id, new RegExp(`^${server.instanceId}:\\d+$`));
    assert.notEqual(pings[0], pings[1]);
  });
});
