import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { Ajv } from "ajv";
import ajvFormats from "ajv-formats";
import type { Redis } from "ioredis";
import type { JsonRpcFailure, JsonRpcSuccess } from "../../src/contract/jsonrpc.js";
import type { Task } from "../../src/contract/tasks.js";
import { createKeys, type Keys } from "../../src/storage/keys.js";
import { type TestRedis, uniquePrefix, useTestRedis } from "../helpers/redis.js";
import { post, rpc, startTestServer } from "../helpers/server.js";

/** The task.* methods end to end over JSON-RPC and the HTTP routes, one fresh key prefix per test. */

type Server = Awaited<ReturnType<typeof startTestServer>>;
type RpcError = JsonRpcFailure["error"];
type ErrorData = { code: string; issues?: { path: string; message: string; code: string }[] } & Record<
  string,
  unknown
>;

// ajv-formats is CommonJS: under NodeNext its default import is typed as the module object.
const addFormats = ajvFormats as unknown as typeof ajvFormats.default;

const CONTRACT_PATH = new URL("../fixtures/jsonrpc-contract.json", import.meta.url);

interface Api {
  url: string;
  keys: Keys;
}

interface ClaimResult {
  claimed: boolean;
  taskId?: string;
  task?: Task;
  tasks: Task[];
  token?: number;
  leaseExpiresAt?: string;
}

interface ListResult {
  tasks: Task[];
  totalCount: number;
  hasMore: boolean;
}

interface StatsResult {
  byStatus: Record<string, number>;
  queueDepth: number;
  delayed: number;
  activeLeases: number;
  deadLetters: number;
  oldestPendingAgeMs: number | null;
  waitTime: { samples: number };
  runTime: { samples: number };
  completionsThisMinute: number;
  completionsPerMinute: number;
  workers: { workerId: string; activeTasks: number }[];
}

let redis: TestRedis;
let admin: Redis;
const servers: Server[] = [];
let requestId = 0;

// before Redis stops: the servers are closed first
after(() => Promise.all(servers.map((s) => s.close())));
useTestRedis((started) => {
  redis = started.server;
  admin = started.redis;
});

/** A server on its own key prefix: each test sees an empty queue. */
async function open(): Promise<Api> {
  const keyPrefix = uniquePrefix("api");
  const server = await startTestServer({
    redisUrl: redis.url,
    keyPrefix,
    overrides: { maintenanceIntervalMs: 100 },
  });
  servers.push(server);
  return { url: server.url, keys: createKeys(keyPrefix) };
}

async function call(api: Api, method: string, params: unknown) {
  const id = ++requestId;
  const res = await rpc(api.url, { jsonrpc: "2.0", id, method, params });
  assert.equal(res.status, 200);
  assert.equal(res.body.id, id);
  return res.body as JsonRpcSuccess | JsonRpcFailure;
}

async function ok<T = Task>(api: Api, method: string, params: unknown = {}): Promise<T> {
  const body = await call(api, method, params);
  assert.ok(!("error" in body), `${method} failed: ${JSON.stringify((body as JsonRpcFailure).error)}`);
  return body.result as T;
}

async function fails(api: Api, method: string, params: unknown): Promise<RpcError & { data: ErrorData }> {
  const body = await call(api, method, params);
  assert.ok("error" in body, `${method} ${JSON.stringify(params)} succeeded: ${JSON.stringify(body)}`);
  return body.error as RpcError & { data: ErrorData };
}

const ids = (tasks: { id: string }[]) => tasks.map((t) => t.id);

/** Everything a failed call must leave untouched: stats, raw index sizes, counters, events. */
async function queueState(api: Api) {
  const q = api.keys.coordination;
  const stats = await ok<StatsResult>(api, "task.stats");
  const raw = await Promise.all(
    [q.all, q.pending, q.delayed, q.ttl, q.leases, q.dead, q.finished].map((k) => admin.zcard(k)),
  );
  return {
    byStatus: stats.byStatus,
    queueDepth: stats.queueDepth,
    delayed: stats.delayed,
    activeLeases: stats.activeLeases,
    deadLetters: stats.deadLetters,
    workers: stats.workers,
    raw,
    seq: await admin.get(q.seq),
    fence: await admin.get(q.fence),
    // task events only: other domains (e.g. leader election) may append meanwhile
    taskEvents: (await admin.xrange(api.keys.events(), "-", "+")).filter(([, fields]) =>
      fields.some((v, i) => i % 2 === 1 && fields[i - 1] === "event" && v.startsWith("task.")),
    ).length,
  };
}

describe("task.create", () => {
  it("answers validate against the original ClaudeBench contract", async () => {
    const contract = JSON.parse(readFileSync(CONTRACT_PATH, "utf8")) as {
      definitions: Record<string, unknown>;
      events: Record<string, { request: object; response: object }>;
    };
    const spec = contract.events["task.create"];
    assert.ok(spec);
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    const validResponse = ajv.compile({ ...spec.response, definitions: contract.definitions });
    const validRequest = ajv.compile({ ...spec.request, definitions: contract.definitions });

    const api = await open();
    const cases: Record<string, unknown>[] = [
      { text: "plain" },
      { text: "zero", priority: 0 },
      { text: "top", priority: 100 },
      { text: "x".repeat(500), priority: 42 },
    ];
    for (const params of cases) {
      const request = { jsonrpc: "2.0", id: ++requestId, method: "task.create", params };
      assert.ok(validRequest(request), JSON.stringify(validRequest.errors));
      const res = await rpc(api.url, request);
      assert.equal(res.status, 200);
      assert.ok(
        validResponse(res.body),
        `${JSON.stringify(validResponse.errors)} for ${JSON.stringify(res.body)}`,
      );
      // the same by hand
      const t = (res.body as JsonRpcSuccess).result as Task;
      assert.match(t.id, /^t-\d+$/);
      assert.equal(t.text, params.text);
      assert.ok(["pending", "in_progress", "completed", "failed"].includes(t.status));
      assert.equal(typeof t.priority, "number");
      assert.equal(t.priority, params.priority ?? 50);
      assert.match(t.createdAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
      assert.equal(new Date(t.createdAt).toISOString(), t.createdAt);
    }
    // the schema is not vacuous: a wrong answer fails it
    const good = await rpc(api.url, { jsonrpc: "2.0", id: 1, method: "task.create", params: { text: "x" } });
    for (const broken of [
      { ...good.body.result, id: "task-1" },
      { ...good.body.result, status: "waiting" },
      { ...good.body.result, createdAt: "yesterday" },
      { ...good.body.result, priority: "50" },
    ]) {
      assert.equal(validResponse({ ...good.body, result: broken }), false, JSON.stringify(broken));
    }
  });

  it("keeps priority 0, accepts the named priorities, defaults to 50, takes 2000 characters", async () => {
    const api = await open();
    const zero = await ok(api, "task.create", { text: "lowest", priority: 0 });
    assert.equal(zero.priority, 0);
    assert.equal((await ok(api, "task.get", { id: zero.id })).priority, 0);
    assert.equal(await admin.hget(api.keys.coordination.task(zero.id), "priority"), "0");
    for (const [name, value] of [
      ["low", 25],
      ["medium", 50],
      ["high", 75],
      ["critical", 100],
    ] as const) {
      const t = await ok(api, "task.create", { text: name, priority: name });
      assert.equal(t.priority, value, name);
    }
    assert.equal((await ok(api, "task.create", { text: "default" })).priority, 50);
    const long = await ok(api, "task.create", { text: "y".repeat(2000) });
    assert.equal(long.text.length, 2000);
    // the zero-priority task is claimed last
    const order: string[] = [];
    for (;;) {
      const c = await ok<ClaimResult>(api, "task.claim", { workerId: "w1" });
      if (!c.claimed) break;
      order.push(c.task?.text.slice(0, 8) ?? "");
    }
    assert.deepEqual(order, ["critical", "high", "medium", "default", "yyyyyyyy", "low", "lowest"]);
  });

  it("an idempotency key answers the first task again, marked duplicate", async () => {
    const api = await open();
    const first = await ok(api, "task.create", { text: "once", idempotencyKey: "k-1" });
    const again = await ok<Task & { duplicate?: boolean }>(api, "task.create", {
      text: "twice",
      idempotencyKey: "k-1",
    });
    assert.equal(again.id, first.id);
    assert.equal(again.text, "once");
    assert.equal(again.duplicate, true);
    assert.equal((await ok<ListResult>(api, "task.list")).totalCount, 1);
  });
});

describe("claim, complete, fail", () => {
  it("a ClaudeBench-style client: claim {workerId}, then complete {id, workerId, result} without a token", async () => {
    const api = await open();
    const created = await ok(api, "task.create", { text: "review PR", priority: "high" });
    const claim = await ok<ClaimResult>(api, "task.claim", { workerId: "claude-1" });
    assert.equal(claim.claimed, true);
    assert.equal(claim.taskId, created.id);
    assert.equal(claim.task?.status, "in_progress");
    assert.equal(claim.task?.assignedTo, "claude-1");
    assert.equal(typeof claim.token, "number");
    assert.ok(claim.leaseExpiresAt);
    const done = await ok<{ id: string; status: string; completedAt: string; task: Task }>(
      api,
      "task.complete",
      { id: created.id, workerId: "claude-1", result: { approved: true, comments: 2 } },
    );
    assert.equal(done.id, created.id);
    assert.equal(done.status, "completed");
    assert.ok(!Number.isNaN(Date.parse(done.completedAt)));
    const got = await ok(api, "task.get", { id: created.id });
    assert.equal(got.status, "completed");
    assert.deepEqual(got.result, { approved: true, comments: 2 });
    assert.equal(got.leaseToken, undefined);
    assert.deepEqual(await ok<ClaimResult>(api, "task.claim", { workerId: "claude-1" }), {
      claimed: false,
      tasks: [],
    });

    // completing without a result (and by token alone, with taskId) is completed too
    const second = await ok(api, "task.create", { text: "no result" });
    const c2 = await ok<ClaimResult>(api, "task.claim", { workerId: "claude-2" });
    const plain = await ok<{ status: string; task: Task }>(api, "task.complete", {
      taskId: second.id,
      token: c2.token,
    });
    assert.equal(plain.status, "completed");
    assert.equal(plain.task.result, undefined);
    assert.equal((await ok(api, "task.get", { id: second.id })).result, undefined);
  });

  it("a stale token after another worker re-claimed: LEASE_LOST (-32009, HTTP 409); the new holder wins", async () => {
    const api = await open();
    const t = await ok(api, "task.create", { text: "contended" });
    const first = await ok<ClaimResult>(api, "task.claim", { workerId: "w1" });
    const unassigned = await ok<{ previousAssignment: string | null }>(api, "task.unassign", {
      taskId: t.id,
    });
    assert.equal(unassigned.previousAssignment, "w1");
    const second = await ok<ClaimResult>(api, "task.claim", { workerId: "w2" });
    assert.equal(second.taskId, t.id);
    assert.ok((second.token as number) > (first.token as number));

    for (const holder of [
      { workerId: "w1", token: first.token },
      { workerId: "w1" },
      { token: first.token },
      { workerId: "w2", token: first.token },
    ]) {
      const error = await fails(api, "task.complete", { id: t.id, ...holder, result: "stale" });
      assert.equal(error.code, -32009, JSON.stringify(holder));
      assert.equal(error.data.code, "LEASE_LOST");
      assert.equal(error.data.holder, "w2");
    }
    const http = await post(api.url, "/task/complete", { id: t.id, workerId: "w1", token: first.token });
    assert.equal(http.status, 409);
    assert.equal(http.body.error.code, "LEASE_LOST");
    const renew = await post(api.url, "/task/renew", { id: t.id, workerId: "w1", token: first.token });
    assert.equal(renew.status, 409);

    const done = await post(api.url, "/task/complete", {
      id: t.id,
      workerId: "w2",
      token: second.token,
      result: "fresh",
    });
    assert.equal(done.status, 200);
    assert.equal(done.body.status, "completed");
    const got = await ok(api, "task.get", { id: t.id });
    assert.equal(got.result, "fresh");
    assert.equal(got.assignedTo, "w2");
    // the loser's retry after the winner's completion is still refused
    assert.equal((await fails(api, "task.complete", { id: t.id, workerId: "w1" })).data.code, "LEASE_LOST");
  });

  it("task.complete with claimNext answers the worker's next task with its lease; refused: nothing claimed", async () => {
    const api = await open();
    await ok(api, "task.create", { text: "first", priority: 90 });
    const first = await ok<ClaimResult>(api, "task.claim", { workerId: "w1" });
    const low = await ok(api, "task.create", { text: "low", priority: 10, channel: "c" });
    const high = await ok(api, "task.create", { text: "high", priority: 70, channel: "c" });

    // a stale token: LEASE_LOST, and the next tasks stay pending
    const lost = await fails(api, "task.complete", {
      id: first.taskId,
      token: (first.token as number) + 100,
      claimNext: {},
    });
    assert.equal(lost.data.code, "LEASE_LOST");
    assert.equal((await ok<StatsResult>(api, "task.stats")).queueDepth, 2);

    const done = await ok<{ status: string; next: ClaimResult }>(api, "task.complete", {
      id: first.taskId,
      workerId: "w1",
      token: first.token,
      result: { ok: true },
      claimNext: { channel: "c", leaseMs: 5000 },
    });
    assert.equal(done.status, "completed");
    assert.equal(done.next.claimed, true);
    assert.equal(done.next.taskId, high.id);
    assert.deepEqual(ids(done.next.tasks), [high.id]);
    assert.equal(done.next.task?.assignedTo, "w1");
    assert.ok((done.next.token as number) > (first.token as number));
    assert.equal(
      Date.parse(done.next.leaseExpiresAt as string) - Date.parse(done.next.task?.claimedAt as string),
      5000,
    );

    // the worker loops: completing the last one claims the remaining task, then nothing
    const second = await ok<{ next: ClaimResult }>(api, "task.complete", {
      id: high.id,
      token: done.next.token,
      claimNext: { maxTasks: 3 },
    });
    assert.deepEqual(ids(second.next.tasks), [low.id]);
    const last = await ok<{ next: ClaimResult }>(api, "task.complete", {
      id: low.id,
      token: second.next.token,
      claimNext: {},
    });
    assert.deepEqual(last.next, { claimed: false, tasks: [] });

    const bad = await fails(api, "task.complete", {
      id: low.id,
      workerId: "w1",
      claimNext: { maxTasks: 11 },
    });
    assert.equal(bad.code, -32602);
  });

  it("task.fail retries with a backoff, then dead-letters; task.retry brings it back", async () => {
    const api = await open();
    const t = await ok(api, "task.create", { text: "flaky", maxAttempts: 2 });
    const c1 = await ok<ClaimResult>(api, "task.claim", { workerId: "w1" });
    const retrying = await ok<{ status: string; retrying: boolean; retryAt?: string; attempts: number }>(
      api,
      "task.fail",
      { id: t.id, workerId: "w1", token: c1.token, error: "timeout" },
    );
    assert.equal(retrying.status, "pending");
    assert.equal(retrying.retrying, true);
    assert.equal(retrying.attempts, 1);
    assert.ok(retrying.retryAt);
    assert.equal((await ok<StatsResult>(api, "task.stats")).delayed, 1);

    // make it due now instead of waiting for the backoff
    await admin.zadd(api.keys.coordination.delayed, "XX", 0, t.id);
    const c2 = await eventuallyClaim(api, "w2");
    assert.equal(c2.taskId, t.id);
    const dead = await ok<{ status: string; retrying: boolean; deadLettered: boolean; attempts: number }>(
      api,
      "task.fail",
      { id: t.id, workerId: "w2", error: "timeout again" },
    );
    assert.deepEqual(
      [dead.status, dead.retrying, dead.deadLettered, dead.attempts],
      ["failed", false, true, 2],
    );
    assert.equal((await ok<StatsResult>(api, "task.stats")).deadLetters, 1);
    assert.deepEqual(ids((await ok<ListResult>(api, "task.list", { status: "failed" })).tasks), [t.id]);

    const back = await ok(api, "task.retry", { id: t.id });
    assert.equal(back.status, "pending");
    assert.equal(back.attempts, 0);
    assert.equal(back.error, undefined);
    assert.equal(back.deadLettered, undefined);
    const stats = await ok<StatsResult>(api, "task.stats");
    assert.equal(stats.deadLetters, 0);
    assert.equal(stats.queueDepth, 1);
    assert.equal((await ok<ClaimResult>(api, "task.claim", { workerId: "w3" })).taskId, t.id);

    const conflict = await fails(api, "task.retry", { id: t.id });
    assert.equal(conflict.code, -32009);
    assert.equal(conflict.data.code, "CONFLICT");
    assert.equal((await post(api.url, "/task/retry", { id: t.id })).status, 409);
  });
});

/** The maintenance loop promotes due delayed tasks; wait for it (bounded). */
async function eventuallyClaim(api: Api, workerId: string): Promise<ClaimResult> {
  const until = Date.now() + 10_000;
  for (;;) {
    const c = await ok<ClaimResult>(api, "task.claim", { workerId });
    if (c.claimed) return c;
    assert.ok(Date.now() < until, "the due task was never promoted");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("task.list and task.stats", () => {
  /** t-1..t-6 in every status, with channels, priorities and texts to filter on. */
  async function seed(api: Api) {
    const mk = (params: Record<string, unknown>) => ok(api, "task.create", params);
    await mk({ text: "Alpha build", priority: 10, channel: "ci" });
    await mk({ text: "beta docs", priority: 50, channel: "docs", description: "write the Alpha guide" });
    await mk({ text: "gamma", priority: 90, channel: "ci" });
    await mk({ text: "delta", priority: 50, maxAttempts: 1 });
    await mk({ text: "epsilon", priority: 0, channel: "ci" });
    await mk({ text: "ALPHA zeta", priority: 75, channel: "docs" });
    await ok(api, "task.assign", { taskId: "t-2", instanceId: "w1" });
    const g = await ok<{ token: number }>(api, "task.assign", { taskId: "t-3", instanceId: "w2" });
    await ok(api, "task.complete", { id: "t-3", token: g.token, result: 1 });
    await ok(api, "task.assign", { taskId: "t-4", instanceId: "w1" });
    await ok(api, "task.fail", { id: "t-4", workerId: "w1", error: "broken" });
    await ok(api, "task.cancel", { id: "t-6", reason: "dup" });
  }

  it("filters by status, assignedTo, channel, priority (exact and range) and text", async () => {
    const api = await open();
    await seed(api);
    const list = async (params: Record<string, unknown>) => {
      const res = await ok<ListResult>(api, "task.list", params);
      assert.equal(res.totalCount, res.tasks.length);
      assert.equal(res.hasMore, false);
      return ids(res.tasks);
    };
    assert.deepEqual(await list({}), ["t-6", "t-5", "t-4", "t-3", "t-2", "t-1"]);
    assert.deepEqual(await list({ order: "asc" }), ["t-1", "t-2", "t-3", "t-4", "t-5", "t-6"]);
    assert.deepEqual(await list({ status: "pending" }), ["t-5", "t-1"]);
    assert.deepEqual(await list({ status: "in_progress" }), ["t-2"]);
    assert.deepEqual(await list({ status: "completed" }), ["t-3"]);
    assert.deepEqual(await list({ status: "failed" }), ["t-4"]);
    assert.deepEqual(await list({ status: "cancelled" }), ["t-6"]);
    assert.deepEqual(await list({ assignedTo: "w1" }), ["t-4", "t-2"]);
    assert.deepEqual(await list({ assignedTo: "w1", status: "in_progress" }), ["t-2"]);
    assert.deepEqual(await list({ assignedTo: "nobody" }), []);
    assert.deepEqual(await list({ channel: "ci" }), ["t-5", "t-3", "t-1"]);
    assert.deepEqual(await list({ channel: "docs", status: "cancelled" }), ["t-6"]);
    assert.deepEqual(await list({ priority: 50 }), ["t-4", "t-2"]);
    assert.deepEqual(await list({ priority: 0 }), ["t-5"]);
    assert.deepEqual(await list({ minPriority: 50, maxPriority: 80 }), ["t-6", "t-4", "t-2"]);
    assert.deepEqual(await list({ minPriority: 80 }), ["t-3"]);
    assert.deepEqual(await list({ maxPriority: 10 }), ["t-5", "t-1"]);
    assert.deepEqual(await list({ text: "alpha" }), ["t-6", "t-2", "t-1"]);
    assert.deepEqual(await list({ text: "GUIDE" }), ["t-2"]);
    assert.deepEqual(await list({ status: "pending", channel: "ci", minPriority: 5 }), ["t-1"]);
  });

  it("paginates with totalCount / hasMore and orders by priority both ways", async () => {
    const api = await open();
    await seed(api);
    const page = (params: Record<string, unknown>) => ok<ListResult>(api, "task.list", params);
    let p = await page({ limit: 2 });
    assert.deepEqual([ids(p.tasks), p.totalCount, p.hasMore], [["t-6", "t-5"], 6, true]);
    p = await page({ limit: 2, offset: 2 });
    assert.deepEqual([ids(p.tasks), p.totalCount, p.hasMore], [["t-4", "t-3"], 6, true]);
    p = await page({ limit: 2, offset: 4 });
    assert.deepEqual([ids(p.tasks), p.totalCount, p.hasMore], [["t-2", "t-1"], 6, false]);
    p = await page({ limit: 2, offset: 6 });
    assert.deepEqual([ids(p.tasks), p.totalCount, p.hasMore], [[], 6, false]);
    // through the filtering path
    p = await page({ channel: "ci", limit: 2 });
    assert.deepEqual([ids(p.tasks), p.totalCount, p.hasMore], [["t-5", "t-3"], 3, true]);
    p = await page({ channel: "ci", limit: 2, offset: 2 });
    assert.deepEqual([ids(p.tasks), p.totalCount, p.hasMore], [["t-1"], 3, false]);
    p = await page({ status: "pending", limit: 1 });
    assert.deepEqual([ids(p.tasks), p.totalCount, p.hasMore], [["t-5"], 2, true]);

    const asc = await page({ orderBy: "priority", order: "asc" });
    assert.deepEqual(ids(asc.tasks), ["t-5", "t-1", "t-2", "t-4", "t-6", "t-3"]);
    const desc = await page({ orderBy: "priority", order: "desc" });
    assert.deepEqual(ids(desc.tasks), ["t-3", "t-6", "t-4", "t-2", "t-1", "t-5"]);
    const priorities = desc.tasks.map((t) => t.priority);
    assert.deepEqual(
      priorities,
      [...priorities].sort((a, b) => b - a),
    );
    p = await page({ orderBy: "priority", order: "desc", limit: 3, offset: 1 });
    assert.deepEqual([ids(p.tasks), p.totalCount, p.hasMore], [["t-6", "t-4", "t-2"], 6, true]);
  });

  it("task.stats counts every status, depth, delayed, leases, dead letters, workers and samples", async () => {
    const api = await open();
    const empty = await ok<StatsResult>(api, "task.stats");
    assert.deepEqual(empty.byStatus, { pending: 0, in_progress: 0, completed: 0, failed: 0, cancelled: 0 });
    assert.equal(empty.oldestPendingAgeMs, null);
    assert.deepEqual(empty.workers, []);

    await seed(api);
    await ok(api, "task.create", { text: "later", delay: 60_000 });
    const s = await ok<StatsResult>(api, "task.stats");
    assert.deepEqual(s.byStatus, { pending: 3, in_progress: 1, completed: 1, failed: 1, cancelled: 1 });
    assert.equal(s.queueDepth, 2);
    assert.equal(s.delayed, 1);
    assert.equal(s.activeLeases, 1);
    assert.equal(s.deadLetters, 1);
    assert.deepEqual(s.workers, [{ workerId: "w1", activeTasks: 1 }]);
    assert.equal(s.waitTime.samples, 3);
    assert.equal(s.runTime.samples, 1);
    // one completion, in this minute or (across a minute boundary) in the last five
    assert.equal(Math.round(s.completionsThisMinute + 5 * s.completionsPerMinute), 1);
    assert.equal(typeof s.oldestPendingAgeMs, "number");
    assert.ok((s.oldestPendingAgeMs as number) >= 0);
  });
});

describe("task.delete, task.unassign, task.cancel", () => {
  it("deletes by id and by filter (status, channel)", async () => {
    const api = await open();
    const keep = await ok(api, "task.create", { text: "keep" });
    const gone = await ok(api, "task.create", { text: "gone", idempotencyKey: "g-1" });
    for (const channel of ["x", "x", "y"]) {
      const t = await ok(api, "task.create", { text: `done in ${channel}`, channel, priority: 100 });
      const c = await ok<ClaimResult>(api, "task.claim", { workerId: "w1" });
      assert.equal(c.taskId, t.id);
      await ok(api, "task.complete", { id: t.id, workerId: "w1" });
    }

    const byId = await ok<{ id: string; deleted: boolean; deletedAt: string }>(api, "task.delete", {
      id: gone.id,
    });
    assert.equal(byId.id, gone.id);
    assert.equal(byId.deleted, true);
    assert.ok(!Number.isNaN(Date.parse(byId.deletedAt)));
    const missing = await fails(api, "task.get", { id: gone.id });
    assert.equal(missing.code, -32004);
    assert.equal(missing.data.code, "NOT_FOUND");
    assert.equal((await fails(api, "task.delete", { id: gone.id })).code, -32004);
    assert.equal((await post(api.url, "/task/delete", { id: gone.id })).status, 404);
    assert.equal(await admin.exists(api.keys.coordination.idempotency("g-1")), 0);

    const inX = await ok<{ deleted: number; ids: string[] }>(api, "task.delete", {
      filter: { status: "completed", channel: "x" },
    });
    assert.deepEqual([inX.deleted, inX.ids], [2, ["t-3", "t-4"]]);
    const rest = await ok<{ deleted: number; ids: string[] }>(api, "task.delete", {
      filter: { status: "completed" },
    });
    assert.deepEqual([rest.deleted, rest.ids], [1, ["t-5"]]);
    assert.deepEqual(
      (await ok<{ deleted: number }>(api, "task.delete", { filter: { status: "completed" } })).deleted,
      0,
    );
    assert.equal(
      (await fails(api, "task.delete", { id: keep.id, filter: { status: "pending" } })).code,
      -32602,
    );
    assert.equal((await fails(api, "task.delete", {})).code, -32602);

    const stats = await ok<StatsResult>(api, "task.stats");
    assert.deepEqual(stats.byStatus, { pending: 1, in_progress: 0, completed: 0, failed: 0, cancelled: 0 });
    assert.deepEqual(ids((await ok<ListResult>(api, "task.list")).tasks), [keep.id]);
    const q = api.keys.coordination;
    assert.deepEqual(await Promise.all([q.all, q.finished, q.pending].map((k) => admin.zcard(k))), [1, 0, 1]);
  });

  it("task.unassign puts a held task back; the old holder is refused; a pending task is a CONFLICT", async () => {
    const api = await open();
    const a = await ok(api, "task.create", { text: "a" });
    const b = await ok(api, "task.create", { text: "b" });
    const c = await ok<ClaimResult>(api, "task.claim", { workerId: "w1" });
    assert.equal(c.taskId, a.id);
    const res = await ok<{
      taskId: string;
      previousAssignment: string | null;
      unassignedAt: string;
      task: Task;
    }>(api, "task.unassign", { taskId: a.id });
    assert.equal(res.taskId, a.id);
    assert.equal(res.previousAssignment, "w1");
    assert.equal(res.task.status, "pending");
    assert.equal(res.task.assignedTo, undefined);
    assert.equal(res.task.attempts, 0);
    assert.ok(!Number.isNaN(Date.parse(res.unassignedAt)));
    assert.equal((await fails(api, "task.complete", { id: a.id, workerId: "w1" })).data.code, "LEASE_LOST");
    // back at its original place: ahead of b
    assert.equal((await ok<ClaimResult>(api, "task.claim", { workerId: "w2" })).taskId, a.id);
    const conflict = await fails(api, "task.unassign", { taskId: b.id });
    assert.equal(conflict.code, -32009);
    assert.equal(conflict.data.code, "CONFLICT");
    assert.equal((await post(api.url, "/task/unassign", { taskId: b.id })).status, 409);
    assert.equal((await fails(api, "task.unassign", { taskId: "t-999" })).code, -32004);
  });

  it("task.cancel stops a held task: its holder's completion is refused", async () => {
    const api = await open();
    const t = await ok(api, "task.create", { text: "cancel me" });
    const c = await ok<ClaimResult>(api, "task.claim", { workerId: "w1" });
    const cancelled = await ok(api, "task.cancel", { id: t.id, reason: "obsolete" });
    assert.equal(cancelled.status, "cancelled");
    assert.equal(cancelled.error, "obsolete");
    const lost = await fails(api, "task.complete", { id: t.id, workerId: "w1", token: c.token });
    assert.equal(lost.data.code, "LEASE_LOST");
    assert.equal((await fails(api, "task.cancel", { id: t.id })).data.code, "CONFLICT");
    assert.equal((await ok(api, "task.get", { id: t.id })).status, "cancelled");
  });
});

describe("bad input", () => {
  it("answers -32602 (HTTP 400) with issues and leaves the queue unchanged", async () => {
    const api = await open();
    await ok(api, "task.create", { text: "one", channel: "c" });
    await ok(api, "task.create", { text: "two", delay: 60_000, ttl: 3600 });
    await ok(api, "task.create", { text: "three" });
    await ok<ClaimResult>(api, "task.claim", { workerId: "w1" });
    const before = await queueState(api);

    const bad: [string, unknown][] = [
      ["task.create", { text: 123 }],
      ["task.create", { text: "" }],
      ["task.create", { text: "x".repeat(2001) }],
      ["task.create", {}],
      ["task.create", { text: "ok", priority: -1 }],
      ["task.create", { text: "ok", priority: 101 }],
      ["task.create", { text: "ok", priority: 50.5 }],
      ["task.create", { text: "ok", priority: "urgent" }],
      ["task.create", { text: "ok", priority: "50" }],
      ["task.create", { text: "ok", maxAttempts: 0 }],
      ["task.create", { text: "ok", channel: "has space" }],
      ["task.create", { text: "ok", idempotencyKey: "" }],
      ["task.list", { status: "done" }],
      ["task.list", { limit: "10" }],
      ["task.list", { minPriority: -5 }],
      ["task.update", { id: "t-1", updates: { status: "done" } }],
      ["task.update", { id: "t-1", updates: { priority: 101 } }],
      ["task.update", { id: "t-1", updates: {} }],
      ["task.get", { id: "42" }],
      ["task.get", { id: "task-1" }],
      ["task.get", {}],
      ["task.claim", { workerId: 5 }],
      ["task.claim", { workerId: "w 1" }],
      ["task.claim", { workerId: "w1", maxTasks: 11 }],
      ["task.claim", { workerId: "w1", leaseMs: 10 }],
      ["task.complete", { id: "t-x", workerId: "w1" }],
      ["task.complete", { id: "t-1" }],
      ["task.fail", { id: "t-1", workerId: "w1" }],
      ["task.fail", { id: "t-1", workerId: "w1", error: "e", retryable: "yes" }],
      ["task.assign", { taskId: "t-2", instanceId: "" }],
      ["task.delete", { id: "1" }],
      ["task.delete", { filter: { status: "gone" } }],
      ["task.retry", { taskId: "t-01x" }],
      ["task.cancel", {}],
      ["task.unassign", { taskId: 2 }],
    ];
    for (const [method, params] of bad) {
      const label = `${method} ${JSON.stringify(params).slice(0, 80)}`;
      const error = await fails(api, method, params);
      assert.equal(error.code, -32602, label);
      assert.equal(error.data.code, "VALIDATION", label);
      assert.ok(Array.isArray(error.data.issues) && error.data.issues.length > 0, label);
      for (const issue of error.data.issues ?? []) {
        assert.equal(typeof issue.path, "string", label);
        assert.ok(issue.message.length > 0, label);
        assert.ok(issue.code.length > 0, label);
      }
      const http = await post(api.url, `/${method.replace(".", "/")}`, params);
      assert.equal(http.status, 400, label);
      assert.equal(http.body.error.code, "VALIDATION", label);
      assert.ok(http.body.error.data.issues.length > 0, label);
    }
    // well-formed but unknown ids: NOT_FOUND (HTTP 404)
    for (const [method, params] of [
      ["task.get", { id: "t-999999" }],
      ["task.complete", { id: "t-999999", workerId: "w1" }],
      ["task.update", { id: "t-999999", updates: { text: "x" } }],
    ] as const) {
      assert.equal((await fails(api, method, params)).code, -32004, method);
      assert.equal((await post(api.url, `/${method.replace(".", "/")}`, params)).status, 404, method);
    }
    assert.deepEqual(await queueState(api), before);
  });
});
