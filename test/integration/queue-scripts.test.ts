import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { TASK_STATUSES } from "../../src/contract/tasks.js";
import { DEFAULT_QUEUE_SETTINGS, TaskQueue } from "../../src/domain/tasks/queue.js";
import type { CoordinationKeys } from "../../src/storage/coordination-keys.js";
import { createKeys, type Keys } from "../../src/storage/keys.js";
import { OwnedLock } from "../../src/storage/lock.js";
import { CoordinationScripts } from "../../src/storage/scripts.js";
import { uniquePrefix, useTestRedis } from "../helpers/redis.js";

/**
 * Every queue script against raw Redis state: each documented return code, the keys each
 * transition touches, the event it appends, and the invariant that a task id is in at most one
 * of pending, delayed, leases and dead.
 */

const SPAN = 2 ** 40;
const SOURCE = "test-src";

type Reply = [string, ...unknown[]];
/** A task hash (all values strings; absent fields unset). */
type Hash = { id: string } & Record<string, string | undefined>;

interface Fx {
  keys: Keys;
  q: CoordinationKeys;
  s: CoordinationScripts;
  queue: TaskQueue;
}

interface StreamEvent {
  id: string;
  event: string;
  source: string;
  payload: { task: Hash } & Record<string, unknown>;
}

let redis: Redis;

function fixture(): Fx {
  const keys = createKeys(uniquePrefix("qs"));
  return {
    keys,
    q: keys.coordination,
    s: new CoordinationScripts(redis, keys, SOURCE, 10_000),
    queue: new TaskQueue(redis, keys, SOURCE, 10_000, DEFAULT_QUEUE_SETTINGS),
  };
}

/** A script's task answer (the task hash as a JSON object) → object. */
function toHash(json: unknown): Hash {
  assert.equal(typeof json, "string", `expected a task as JSON text, got ${JSON.stringify(json)}`);
  return JSON.parse(json as string) as Hash;
}

const orderScore = (t: Hash) => (100 - Number(t.priority)) * SPAN + Number(t.seq);

// ---- script wrappers (ARGV in the order each script header documents) ----

interface NewTask {
  text?: string;
  priority?: number;
  description?: string;
  channel?: string;
  maxAttempts?: number;
  delayMs?: number;
  ttlMs?: number;
  idem?: string;
  idemTtlSec?: number;
  limit?: number;
  requires?: string[];
  meta?: Record<string, unknown>;
}

function createRaw(fx: Fx, o: NewTask = {}): Promise<Reply> {
  return fx.s.run("createTask", fx.q.seq, [
    o.text ?? "do something",
    o.priority ?? 50,
    o.description ?? "",
    o.channel ?? "",
    o.maxAttempts ?? 3,
    o.delayMs ?? 0,
    o.ttlMs ?? 0,
    o.idem ?? "",
    o.idemTtlSec ?? 3600,
    o.limit ?? 0,
    o.requires ? JSON.stringify(o.requires) : "",
    ...Object.entries(o.meta ?? {}).flatMap(([k, v]) => [k, JSON.stringify(v)]),
  ]) as Promise<Reply>;
}

async function create(fx: Fx, o: NewTask = {}): Promise<Hash> {
  const reply = await createRaw(fx, o);
  assert.equal(reply[0], "OK", JSON.stringify(reply));
  return toHash(reply[1]);
}

interface ClaimOptions {
  count?: number;
  leaseMs?: number;
  capacity?: number;
  caps?: string[];
  scanLimit?: number;
  channel?: string;
}

function claimRaw(fx: Fx, worker: string, o: ClaimOptions = {}): Promise<Reply> {
  return fx.s.run("claimTasks", o.channel ? fx.q.channel(o.channel) : fx.q.pending, [
    worker,
    o.count ?? 1,
    o.leaseMs ?? 30_000,
    o.capacity ?? 0,
    o.caps ? JSON.stringify(o.caps) : "",
    o.scanLimit ?? 1000,
  ]) as Promise<Reply>;
}

async function claim(fx: Fx, worker: string, o: ClaimOptions = {}): Promise<Hash[]> {
  const reply = await claimRaw(fx, worker, o);
  assert.equal(reply[0], "OK", JSON.stringify(reply));
  return reply.slice(1).map(toHash);
}

async function claimOne(fx: Fx, worker: string, o: ClaimOptions = {}): Promise<Hash> {
  const [task, ...more] = await claim(fx, worker, o);
  assert.ok(task, "nothing was claimed");
  assert.equal(more.length, 0);
  return task;
}

const assign = (fx: Fx, id: string, worker: string, leaseMs = 30_000, capacity = 0) =>
  fx.s.run("assignTask", fx.q.task(id), [id, worker, leaseMs, capacity]) as Promise<Reply>;
const renew = (fx: Fx, id: string, worker: string, token: string, leaseMs: number) =>
  fx.s.run("renewLease", fx.q.task(id), [id, worker, token, leaseMs]) as Promise<Reply>;
const complete = (fx: Fx, id: string, worker: string, token: string, result = "") =>
  fx.s.run("completeTask", fx.q.task(id), [id, worker, token, result]) as Promise<Reply>;
interface NextOptions {
  count?: number;
  leaseMs?: number;
  capacity?: number | "registered";
  caps?: string[];
  scanLimit?: number;
  channel?: string;
}
const completeAndClaim = (
  fx: Fx,
  id: string,
  worker: string,
  token: string,
  o: NextOptions = {},
  result = "",
) =>
  fx.s.run("completeAndClaim", fx.q.task(id), [
    id,
    worker,
    token,
    result,
    o.count ?? 1,
    o.leaseMs ?? 30_000,
    o.capacity ?? 0,
    o.caps ? JSON.stringify(o.caps) : "",
    o.scanLimit ?? 1000,
    o.channel ?? "",
  ]) as Promise<Reply>;
const fail = (
  fx: Fx,
  id: string,
  worker: string,
  token: string,
  o: { error?: string; retryable?: boolean; baseMs?: number; capMs?: number; seed?: number } = {},
) =>
  fx.s.run("failTask", fx.q.task(id), [
    id,
    worker,
    token,
    o.error ?? "boom",
    o.retryable === false ? "0" : "1",
    o.baseMs ?? 1000,
    o.capMs ?? 60_000,
    o.seed ?? 42,
  ]) as Promise<Reply>;
const release = (fx: Fx, id: string, worker = "", token = "") =>
  fx.s.run("releaseTask", fx.q.task(id), [id, worker, token]) as Promise<Reply>;
const cancel = (fx: Fx, id: string, reason = "") =>
  fx.s.run("cancelTask", fx.q.task(id), [id, reason]) as Promise<Reply>;
const del = (fx: Fx, id: string, status = "", channel = "") =>
  fx.s.run("deleteTask", fx.q.task(id), [id, status, channel]) as Promise<Reply>;
const retry = (fx: Fx, id: string) => fx.s.run("retryTask", fx.q.task(id), [id]) as Promise<Reply>;
const update = (fx: Fx, id: string, ...pairs: string[]) =>
  fx.s.run("updateTask", fx.q.task(id), [id, ...pairs]) as Promise<Reply>;
const reap = (fx: Fx, o: { batch?: number; baseMs?: number; capMs?: number; seed?: number } = {}) =>
  fx.s.run("reapLeases", fx.q.leases, [
    o.batch ?? 100,
    o.baseMs ?? 1000,
    o.capMs ?? 60_000,
    o.seed ?? 7,
  ]) as Promise<[number, number]>;
const promote = (fx: Fx, batch = 100) => fx.s.run("promoteDelayed", fx.q.delayed, [batch]) as Promise<number>;
const expire = (fx: Fx, batch = 100) => fx.s.run("expireTasks", fx.q.ttl, [batch]) as Promise<number>;
const archive = (fx: Fx, cutoffMs: number, batch = 100) =>
  fx.s.run("archiveFinished", fx.q.finished, [cutoffMs, batch]) as Promise<number>;

// ---- raw state ----

const hash = async (fx: Fx, id: string): Promise<Hash> => (await redis.hgetall(fx.q.task(id))) as Hash;

async function score(key: string, id: string): Promise<number | null> {
  const s = await redis.zscore(key, id);
  return s === null ? null : Number(s);
}

/** Every sorted set and set under the queue's base that holds `id`, by key suffix, sorted. */
async function holding(fx: Fx, id: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", `${fx.q.base}*`, "COUNT", 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== "0");
  const found: string[] = [];
  for (const key of keys) {
    const type = await redis.type(key);
    const member =
      type === "zset"
        ? (await redis.zscore(key, id)) !== null
        : type === "set"
          ? (await redis.sismember(key, id)) === 1
          : false;
    if (member) found.push(key.slice(fx.q.base.length));
  }
  return found.sort();
}

async function events(fx: Fx): Promise<StreamEvent[]> {
  const entries = await redis.xrange(fx.keys.events(), "-", "+");
  return entries.map(([id, fields]) => {
    const f: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i] as string] = fields[i + 1] as string;
    return {
      id,
      event: f.event as string,
      source: f.source as string,
      payload: JSON.parse(f.payload as string),
    };
  });
}

/** Event names concerning one task, in stream order. */
async function eventNames(fx: Fx, id: string): Promise<string[]> {
  return (await events(fx)).filter((e) => e.payload.task.id === id).map((e) => e.event);
}

async function lastEvent(fx: Fx): Promise<StreamEvent> {
  const all = await events(fx);
  const last = all.at(-1);
  assert.ok(last, "no event in the stream");
  assert.equal(last.source, SOURCE);
  return last;
}

/**
 * The queue's invariants over every task it knows: a task id is in at most one of pending,
 * delayed, leases and dead; its status index, waiting/lease structures and channel index agree
 * with its hash.
 */
async function assertInvariant(fx: Fx): Promise<void> {
  const members = async (key: string) => new Set(await redis.zrange(key, 0, -1));
  const [pending, delayed, leases, dead, finished, all] = await Promise.all([
    members(fx.q.pending),
    members(fx.q.delayed),
    members(fx.q.leases),
    members(fx.q.dead),
    members(fx.q.finished),
    members(fx.q.all),
  ]);
  const places = { pending, delayed, leases, dead } as Record<string, Set<string>>;
  const ids = new Set([...all, ...pending, ...delayed, ...leases, ...dead]);
  for (const id of ids) {
    const inside = Object.keys(places).filter((name) => places[name]?.has(id));
    assert.ok(inside.length <= 1, `${id} is in ${inside.join(" and ")}`);
  }
  for (const id of all) {
    const t = await hash(fx, id);
    assert.ok(t.status, `${id} is indexed in all but has no hash`);
    for (const status of TASK_STATUSES) {
      const indexed = (await score(fx.q.status(status), id)) !== null;
      assert.equal(indexed, status === t.status, `${id} (${t.status}) in st:${status}: ${indexed}`);
    }
    const waiting = pending.has(id);
    if (t.channel) {
      const inChannel = (await score(fx.q.channel(t.channel), id)) !== null;
      assert.equal(inChannel, waiting, `${id}: channel index and pending disagree`);
    }
    switch (t.status) {
      case "pending":
        assert.ok(waiting !== delayed.has(id), `pending ${id} must be claimable xor delayed`);
        if (waiting) assert.equal(await score(fx.q.pending, id), orderScore(t), `${id}: order score`);
        assert.equal(t.leaseToken, undefined);
        break;
      case "in_progress":
        assert.ok(leases.has(id), `in-progress ${id} has no lease`);
        assert.equal(await score(fx.q.leases, id), Number(t.leaseExpiresAt));
        assert.equal(await redis.sismember(fx.q.worker(t.assignedTo as string), id), 1);
        assert.equal(await redis.sismember(fx.q.workers, t.assignedTo as string), 1);
        assert.ok(Number(t.leaseToken) > 0);
        break;
      default:
        assert.ok(finished.has(id), `${t.status} ${id} is not in finished`);
        assert.ok(!waiting && !delayed.has(id) && !leases.has(id), `${t.status} ${id} still queued`);
        assert.equal(dead.has(id), t.status === "failed" && t.deadLettered === "1", `${id}: dead letters`);
    }
  }
}

/** Waits (polling Redis' own clock) until Redis time is past `ms`. */
async function redisTimePast(ms: number): Promise<void> {
  const until = Date.now() + 10_000;
  for (;;) {
    const [s, us] = await redis.time();
    if (Number(s) * 1000 + Math.floor(Number(us) / 1000) > ms) return;
    if (Date.now() > until) throw new Error(`Redis time never passed ${ms}`);
    await sleep(5);
  }
}

useTestRedis((started) => ({ redis } = started));

describe("createTask", () => {
  it("OK: a pending task in every index, with its created event", async () => {
    const fx = fixture();
    const t = await create(fx, {
      text: "write docs",
      priority: 70,
      description: "all of them",
      channel: "docs",
      maxAttempts: 4,
      requires: ["gpu"],
      meta: { owner: "ann", n: 3 },
    });
    assert.equal(t.id, "t-1");
    assert.deepEqual(await hash(fx, t.id), t);
    assert.equal(t.seq, "1");
    assert.equal(t.status, "pending");
    assert.equal(t.text, "write docs");
    assert.equal(t.priority, "70");
    assert.equal(t.description, "all of them");
    assert.equal(t.channel, "docs");
    assert.equal(t.maxAttempts, "4");
    assert.equal(t.attempts, "0");
    assert.equal(t.requires, '["gpu"]');
    assert.equal(t["m:owner"], '"ann"');
    assert.equal(t["m:n"], "3");
    assert.equal(t.createdAt, t.updatedAt);
    assert.equal(t.runAfter, undefined);
    assert.equal(t.expiresAt, undefined);
    assert.deepEqual(await holding(fx, t.id), ["all", "pending", "pending:ch:docs", "st:pending"]);
    assert.equal(await score(fx.q.pending, t.id), 30 * SPAN + 1);
    assert.equal(await score(fx.q.channel("docs"), t.id), 30 * SPAN + 1);
    assert.equal(await score(fx.q.all, t.id), 1);

    const second = await create(fx, { priority: 0 });
    assert.equal(second.id, "t-2");
    assert.equal(second.priority, "0");
    assert.equal(await score(fx.q.pending, second.id), 100 * SPAN + 2);

    const created = await events(fx);
    assert.deepEqual(
      created.map((e) => [e.event, e.source, e.payload.task.id]),
      [
        ["task.created", SOURCE, "t-1"],
        ["task.created", SOURCE, "t-2"],
      ],
    );
    assert.deepEqual(created[0]?.payload.task, t);
    await assertInvariant(fx);
  });

  it("OK: a delay puts it in delayed, a ttl in the expiry set", async () => {
    const fx = fixture();
    const t = await create(fx, { delayMs: 60_000, ttlMs: 120_000 });
    assert.equal(Number(t.runAfter), Number(t.createdAt) + 60_000);
    assert.equal(Number(t.expiresAt), Number(t.createdAt) + 120_000);
    assert.deepEqual(await holding(fx, t.id), ["all", "delayed", "st:pending", "ttl"]);
    assert.equal(await score(fx.q.delayed, t.id), Number(t.runAfter));
    assert.equal(await score(fx.q.ttl, t.id), Number(t.expiresAt));
    await assertInvariant(fx);
  });

  it("DUPLICATE: an idempotency key used before returns that task and creates nothing", async () => {
    const fx = fixture();
    const first = await create(fx, { idem: "job-1", text: "first" });
    assert.equal(first.idempotencyKey, "job-1");
    assert.equal(await redis.get(fx.q.idempotency("job-1")), first.id);
    const ttl = await redis.ttl(fx.q.idempotency("job-1"));
    assert.ok(ttl > 0 && ttl <= 3600, `idempotency key ttl ${ttl}`);

    const again = await createRaw(fx, { idem: "job-1", text: "second", priority: 99 });
    assert.equal(again[0], "DUPLICATE");
    assert.deepEqual(toHash(again[1]), first);
    assert.equal(await redis.get(fx.q.seq), "1");
    assert.equal(await redis.zcard(fx.q.all), 1);
    assert.equal(await redis.zcard(fx.q.pending), 1);
    assert.deepEqual(
      (await events(fx)).map((e) => e.event),
      ["task.created"],
    );
    // another key is another task
    assert.equal((await create(fx, { idem: "job-2" })).id, "t-2");
    await assertInvariant(fx);
  });

  it("QUEUE_FULL: refused at the limit (pending + delayed), nothing created", async () => {
    const fx = fixture();
    await create(fx, { limit: 2 });
    await create(fx, { limit: 2, delayMs: 60_000 });
    const full = await createRaw(fx, { limit: 2, idem: "k" });
    assert.deepEqual(full, ["QUEUE_FULL", 2]);
    assert.equal(await redis.get(fx.q.seq), "2");
    assert.equal(await redis.zcard(fx.q.all), 2);
    assert.equal(await redis.exists(fx.q.idempotency("k")), 0);
    assert.equal((await events(fx)).length, 2);
    // a claimed task no longer counts as queued
    await claimOne(fx, "w1");
    assert.equal((await create(fx, { limit: 2 })).id, "t-3");
    await assertInvariant(fx);
  });
});

describe("claimTasks", () => {
  it("OK: priority first, then FIFO; the lease is recorded everywhere; the event names the worker", async () => {
    const fx = fixture();
    const priorities = [10, 50, 50, 90, 10, 90, 0, 100];
    for (const priority of priorities) await create(fx, { priority });
    const order: string[] = [];
    for (let i = 0; i < priorities.length; i++) {
      const t = await claimOne(fx, "w1", { leaseMs: 30_000 });
      order.push(t.id);
      assert.equal(t.status, "in_progress");
      assert.equal(t.assignedTo, "w1");
      assert.equal(t.attempts, "1");
      assert.equal(Number(t.leaseExpiresAt), Number(t.claimedAt) + 30_000);
      assert.deepEqual(await hash(fx, t.id), t);
      assert.deepEqual(await holding(fx, t.id), ["all", "leases", "st:in_progress", "w:w1"]);
      const ev = await lastEvent(fx);
      assert.equal(ev.event, "task.claimed");
      assert.equal(ev.payload.workerId, "w1");
      assert.deepEqual(ev.payload.task, t);
    }
    assert.deepEqual(order, ["t-8", "t-4", "t-6", "t-2", "t-3", "t-1", "t-5", "t-7"]);
    assert.deepEqual(await claim(fx, "w1"), []);
    assert.deepEqual(await redis.smembers(fx.q.workers), ["w1"]);
    assert.equal(await redis.scard(fx.q.worker("w1")), priorities.length);
    assert.equal(await redis.llen(fx.q.statWait), priorities.length);
    await assertInvariant(fx);
  });

  it("OK: count > 1 takes the best N in order, fencing tokens strictly grow", async () => {
    const fx = fixture();
    for (const priority of [20, 80, 50, 80, 20]) await create(fx, { priority });
    const first = await claim(fx, "w1", { count: 3 });
    assert.deepEqual(
      first.map((t) => t.id),
      ["t-2", "t-4", "t-3"],
    );
    const rest = await claim(fx, "w2", { count: 10 });
    assert.deepEqual(
      rest.map((t) => t.id),
      ["t-1", "t-5"],
    );
    const tokens = [...first, ...rest].map((t) => Number(t.leaseToken));
    for (let i = 1; i < tokens.length; i++) assert.ok((tokens[i] as number) > (tokens[i - 1] as number));
    assert.equal(Number(await redis.get(fx.q.fence)), tokens.at(-1));
    assert.deepEqual((await redis.smembers(fx.q.workers)).sort(), ["w1", "w2"]);
    await assertInvariant(fx);
  });

  it("AT_CAPACITY: refused when the worker holds its capacity; otherwise claims only up to it", async () => {
    const fx = fixture();
    for (let i = 0; i < 5; i++) await create(fx);
    assert.equal((await claim(fx, "w1", { count: 5, capacity: 2 })).length, 2);
    assert.deepEqual(await claimRaw(fx, "w1", { capacity: 2 }), ["AT_CAPACITY", 2, 2]);
    assert.equal(await redis.scard(fx.q.worker("w1")), 2);
    assert.equal(await redis.zcard(fx.q.pending), 3);
    const more = await claim(fx, "w1", { count: 5, capacity: 3 });
    assert.deepEqual(
      more.map((t) => t.id),
      ["t-3"],
    );
    assert.equal((await claim(fx, "w2", { capacity: 1 })).length, 1);
    await assertInvariant(fx);
  });

  it("a channel key takes only that channel's tasks, and leaves both indexes", async () => {
    const fx = fixture();
    await create(fx, { channel: "a", priority: 10 });
    await create(fx, { channel: "b", priority: 90 });
    await create(fx, { priority: 100 });
    await create(fx, { channel: "a", priority: 60 });
    const fromA = await claim(fx, "w1", { channel: "a", count: 10 });
    assert.deepEqual(
      fromA.map((t) => t.id),
      ["t-4", "t-1"],
    );
    assert.equal(await redis.zcard(fx.q.channel("a")), 0);
    assert.deepEqual(await redis.zrange(fx.q.pending, 0, -1), ["t-3", "t-2"]);
    assert.deepEqual(await claim(fx, "w1", { channel: "a" }), []);
    // the main index takes channel tasks too, and leaves their channel index
    assert.deepEqual(
      (await claim(fx, "w2", { count: 2 })).map((t) => t.id),
      ["t-3", "t-2"],
    );
    assert.equal(await redis.zcard(fx.q.channel("b")), 0);
    await assertInvariant(fx);
  });

  it("skips tasks requiring capabilities the worker lacks, within the scan limit", async () => {
    const fx = fixture();
    await create(fx, { priority: 90, requires: ["gpu"] });
    await create(fx, { priority: 80, requires: ["gpu", "cuda"] });
    await create(fx, { priority: 70, requires: ["gpu"] });
    await create(fx, { priority: 10 });

    // no capabilities: three candidates skipped; a scan limit of 3 stops before the plain task
    assert.deepEqual(await claim(fx, "w0", { scanLimit: 3 }), []);
    assert.equal(await redis.zcard(fx.q.pending), 4);
    assert.equal((await claimOne(fx, "w0", { scanLimit: 4 })).id, "t-4");

    // gpu only: t-2 (needs cuda too) is skipped
    assert.deepEqual(
      (await claim(fx, "w-gpu", { caps: ["gpu"], count: 3 })).map((t) => t.id),
      ["t-1", "t-3"],
    );
    assert.equal((await claimOne(fx, "w-all", { caps: ["cuda", "gpu", "x"] })).id, "t-2");
    await assertInvariant(fx);
  });

  it("puts every skipped candidate back in its place, however many (more than Lua's unpack takes)", async () => {
    const fx = fixture();
    const SKIPPED = 4100; // 8,200 scores and ids: one unpack of them all fails ("too many results")
    await Promise.all(
      Array.from({ length: SKIPPED }, (_, i) => create(fx, { priority: 60 + (i % 3), requires: ["gpu"] })),
    );
    const plain = await create(fx, { priority: 10 });
    const before = await redis.zrange(fx.q.pending, 0, -1, "WITHSCORES");

    assert.equal((await claimOne(fx, "w0", { scanLimit: SKIPPED + 1 })).id, plain.id);
    assert.deepEqual(await redis.zrange(fx.q.pending, 0, -1, "WITHSCORES"), before.slice(0, -2));
    await assertInvariant(fx);
  });

  it("skips a task whose stored requirements are not a JSON array, and keeps it in the index", async () => {
    const fx = fixture();
    const damaged = await create(fx, { priority: 90, requires: ["gpu"] });
    const notJson = await create(fx, { priority: 80, requires: ["gpu"] });
    const plain = await create(fx, { priority: 10 });
    await redis.hset(fx.q.task(damaged.id), "requires", '"gpu"'); // a JSON string, not an array
    await redis.hset(fx.q.task(notJson.id), "requires", "[gpu");

    assert.deepEqual(
      (await claim(fx, "w-gpu", { caps: ["gpu"], count: 3 })).map((t) => t.id),
      [plain.id],
    );
    assert.deepEqual(await redis.zrange(fx.q.pending, 0, -1), [damaged.id, notJson.id]);
  });

  it("heals a stale index entry (task gone, or no longer pending) instead of leasing it", async () => {
    const fx = fixture();
    const held = await create(fx, { priority: 50, channel: "c" });
    const heldLease = await claimOne(fx, "w1");
    assert.equal(heldLease.id, held.id);
    const real = await create(fx, { priority: 10, channel: "c" });
    // seeded corruption: a vanished task and an in-progress one ahead of the real task
    await redis.zadd(fx.q.pending, 0, "t-999", 1, held.id);
    await redis.zadd(fx.q.channel("c"), 0, "t-999", 1, held.id);

    const got = await claimOne(fx, "w2");
    assert.equal(got.id, real.id);
    assert.equal(await redis.zcard(fx.q.pending), 0);
    assert.deepEqual(await redis.zrange(fx.q.channel("c"), 0, -1), ["t-999", held.id]);
    assert.deepEqual(await claim(fx, "w2", { channel: "c" }), []);
    assert.equal(await redis.zcard(fx.q.channel("c")), 0);
    // the in-progress task kept its single lease
    const after = await hash(fx, held.id);
    assert.equal(after.assignedTo, "w1");
    assert.equal(after.leaseToken, heldLease.leaseToken);
    assert.equal(after.attempts, "1");
    assert.deepEqual(await eventNames(fx, held.id), ["task.created", "task.claimed"]);
    await assertInvariant(fx);
  });
});

describe("assignTask", () => {
  it("OK: leases a pending task to the named worker, with the assigned event", async () => {
    const fx = fixture();
    await create(fx, { priority: 90 });
    const t = await create(fx, { priority: 10, channel: "x" });
    const reply = await assign(fx, t.id, "inst-1", 20_000);
    assert.equal(reply[0], "OK");
    const a = toHash(reply[1]);
    assert.equal(a.status, "in_progress");
    assert.equal(a.assignedTo, "inst-1");
    assert.equal(a.attempts, "1");
    assert.equal(Number(a.leaseExpiresAt), Number(a.claimedAt) + 20_000);
    assert.deepEqual(await hash(fx, t.id), a);
    assert.deepEqual(await holding(fx, t.id), ["all", "leases", "st:in_progress", "w:inst-1"]);
    const ev = await lastEvent(fx);
    assert.equal(ev.event, "task.assigned");
    assert.equal(ev.payload.workerId, "inst-1");
    assert.deepEqual(ev.payload.task, a);
    await assertInvariant(fx);
  });

  it("NOT_FOUND, CONFLICT (not pending; delayed and not due) and AT_CAPACITY", async () => {
    const fx = fixture();
    assert.deepEqual(await assign(fx, "t-404", "w1"), ["NOT_FOUND"]);
    const a = await create(fx);
    const b = await create(fx);
    const later = await create(fx, { delayMs: 60_000 });
    await claimOne(fx, "w1");
    assert.deepEqual(await assign(fx, a.id, "w2"), ["CONFLICT", "in_progress"]);
    assert.deepEqual(await assign(fx, later.id, "w2"), ["CONFLICT", "pending"]);
    assert.deepEqual(await assign(fx, b.id, "w1", 30_000, 1), ["AT_CAPACITY", 1, 1]);
    assert.equal((await hash(fx, b.id)).status, "pending");
    assert.deepEqual(await holding(fx, b.id), ["all", "pending", "st:pending"]);
    await complete(fx, a.id, "w1", "");
    assert.deepEqual(await assign(fx, a.id, "w2"), ["CONFLICT", "completed"]);
    assert.equal((await assign(fx, b.id, "w1", 30_000, 1))[0], "OK");
    await assertInvariant(fx);
  });
});

describe("renewLease", () => {
  it("OK: moves the expiry, keeps the token", async () => {
    const fx = fixture();
    await create(fx);
    const t = await claimOne(fx, "w1", { leaseMs: 1000 });
    const reply = await renew(fx, t.id, "w1", t.leaseToken as string, 60_000);
    assert.equal(reply[0], "OK");
    const r = toHash(reply[1]);
    assert.equal(r.leaseToken, t.leaseToken);
    assert.ok(Number(r.leaseExpiresAt) >= Number(t.claimedAt) + 60_000);
    assert.equal(await score(fx.q.leases, t.id), Number(r.leaseExpiresAt));
    assert.equal((await hash(fx, t.id)).leaseExpiresAt, r.leaseExpiresAt);
    // by worker only, or by token only
    assert.equal((await renew(fx, t.id, "w1", "", 5000))[0], "OK");
    assert.equal((await renew(fx, t.id, "", t.leaseToken as string, 5000))[0], "OK");
    await assertInvariant(fx);
  });

  it("NOT_FOUND and LEASE_LOST (wrong worker, wrong token, not in progress)", async () => {
    const fx = fixture();
    assert.deepEqual(await renew(fx, "t-9", "w1", "", 5000), ["NOT_FOUND"]);
    await create(fx);
    const waiting = await create(fx);
    const t = await claimOne(fx, "w1");
    const before = await hash(fx, t.id);
    assert.deepEqual(await renew(fx, t.id, "w2", "", 60_000), ["LEASE_LOST", "in_progress", "w1"]);
    assert.deepEqual(await renew(fx, t.id, "w1", String(Number(t.leaseToken) + 1), 60_000), [
      "LEASE_LOST",
      "in_progress",
      "w1",
    ]);
    assert.deepEqual(await renew(fx, waiting.id, "w1", "", 60_000), ["LEASE_LOST", "pending", ""]);
    assert.deepEqual(await hash(fx, t.id), before);
    await assertInvariant(fx);
  });
});

describe("completeTask", () => {
  it("OK: result stored, lease dropped, finished, run-time and per-minute stats updated", async () => {
    const fx = fixture();
    await create(fx, { channel: "c", ttlMs: 60_000 });
    const t = await claimOne(fx, "w1");
    const reply = await complete(fx, t.id, "w1", t.leaseToken as string, JSON.stringify({ ok: true, n: 2 }));
    assert.equal(reply[0], "OK");
    const c = toHash(reply[1]);
    assert.deepEqual(await hash(fx, t.id), c);
    assert.equal(c.status, "completed");
    assert.equal(c.result, '{"ok":true,"n":2}');
    assert.ok(Number(c.completedAt) >= Number(t.claimedAt));
    assert.equal(c.leaseToken, undefined);
    assert.equal(c.leaseExpiresAt, undefined);
    assert.equal(c.error, undefined);
    assert.deepEqual(await holding(fx, t.id), ["all", "finished", "st:completed"]);
    assert.equal(await score(fx.q.finished, t.id), Number(c.completedAt));
    assert.equal(await redis.exists(fx.q.worker("w1")), 0);
    // w1 holds nothing now; it leaves the workers set at the next reapLeases, not at each completion
    assert.deepEqual(await redis.smembers(fx.q.workers), ["w1"]);
    assert.deepEqual(await reap(fx), [0, 0]);
    assert.deepEqual(await redis.smembers(fx.q.workers), []);

    const runMs = Number(c.completedAt) - Number(t.claimedAt);
    assert.deepEqual(await redis.lrange(fx.q.statRun, 0, -1), [String(runMs)]);
    const minuteKey = fx.q.completionsInMinute(Math.floor(Number(c.completedAt) / 60_000));
    assert.equal(await redis.get(minuteKey), "1");
    const ttl = await redis.ttl(minuteKey);
    assert.ok(ttl > 0 && ttl <= 7200, `per-minute counter ttl ${ttl}`);

    const ev = await lastEvent(fx);
    assert.equal(ev.event, "task.completed");
    assert.equal(ev.payload.workerId, "w1");
    assert.equal(ev.payload.runMs, runMs);
    assert.deepEqual(ev.payload.task, c);

    // without a result: none stored
    await create(fx);
    const u = await claimOne(fx, "w1");
    const plain = toHash((await complete(fx, u.id, "w1", ""))[1]);
    assert.equal(plain.status, "completed");
    assert.equal(plain.result, undefined);
    assert.equal(await redis.llen(fx.q.statRun), 2);
    await assertInvariant(fx);
  });

  it("the sample lists keep at least the newest 1,000 samples, trimmed back to 1,000 past 1,100", async () => {
    const fx = fixture();
    const old = Array.from({ length: 1099 }, () => "7");
    await redis.rpush(fx.q.statRun, ...old);
    const runOf = async () => {
      await create(fx);
      const t = await claimOne(fx, "w1");
      const c = toHash((await complete(fx, t.id, "w1", ""))[1]);
      return String(Number(c.completedAt) - Number(c.claimedAt));
    };
    const first = await runOf(); // 1,100 entries: not trimmed yet
    assert.equal(await redis.llen(fx.q.statRun), 1100);
    assert.equal((await fx.queue.stats()).runTime.samples, 1000, "stats read the newest 1,000 only");
    const second = await runOf(); // 1,101: cut back to the newest 1,000
    assert.equal(await redis.llen(fx.q.statRun), 1000);
    assert.deepEqual(await redis.lrange(fx.q.statRun, 0, 1), [second, first]);
    assert.equal((await fx.queue.stats()).waitTime.samples, 2);
  });

  it("NOT_FOUND, and LEASE_LOST for a stale token after a re-claim and for a completed task", async () => {
    const fx = fixture();
    assert.deepEqual(await complete(fx, "t-1", "w1", ""), ["NOT_FOUND"]);
    await create(fx);
    const first = await claimOne(fx, "w1");
    assert.equal((await release(fx, first.id))[0], "OK");
    const second = await claimOne(fx, "w2");
    assert.equal(second.id, first.id);
    assert.ok(Number(second.leaseToken) > Number(first.leaseToken));

    assert.deepEqual(await complete(fx, first.id, "w1", first.leaseToken as string), [
      "LEASE_LOST",
      "in_progress",
      "w2",
    ]);
    assert.deepEqual(await complete(fx, first.id, "", first.leaseToken as string), [
      "LEASE_LOST",
      "in_progress",
      "w2",
    ]);
    assert.deepEqual(await complete(fx, first.id, "w1", ""), ["LEASE_LOST", "in_progress", "w2"]);
    // the right holder with the wrong token is refused too
    assert.deepEqual(await complete(fx, first.id, "w2", first.leaseToken as string), [
      "LEASE_LOST",
      "in_progress",
      "w2",
    ]);
    assert.equal((await hash(fx, first.id)).status, "in_progress");

    const done = await complete(fx, second.id, "w2", second.leaseToken as string, '"r"');
    assert.equal(done[0], "OK");
    const again = await complete(fx, second.id, "w2", second.leaseToken as string, '"r2"');
    assert.equal(again[0], "LEASE_LOST");
    assert.equal(again[1], "completed");
    assert.equal((await hash(fx, second.id)).result, '"r"');
    assert.equal((await eventNames(fx, first.id)).filter((e) => e === "task.completed").length, 1);
    await assertInvariant(fx);
  });
});

describe("completeAndClaim", () => {
  it("OK: completes as completeTask does, then claims the best next task for the same worker", async () => {
    const fx = fixture();
    await create(fx, { priority: 90 });
    const t = await claimOne(fx, "w1");
    await create(fx, { priority: 10 });
    await create(fx, { priority: 60 });
    const reply = await completeAndClaim(fx, t.id, "w1", t.leaseToken as string, {}, '{"ok":true}');
    assert.equal(reply[0], "OK");
    const done = toHash(reply[1]);
    assert.equal(done.status, "completed");
    assert.equal(done.result, '{"ok":true}');
    assert.equal(done.leaseToken, undefined);
    assert.deepEqual(await hash(fx, t.id), done);
    assert.deepEqual(await holding(fx, t.id), ["all", "finished", "st:completed"]);
    assert.equal(await redis.llen(fx.q.statRun), 1);

    const claimed = reply[2] as Reply;
    assert.equal(claimed[0], "OK");
    assert.equal(claimed.length, 2);
    const next = toHash(claimed[1]);
    assert.equal(next.id, "t-3", "priority 60 before 10");
    assert.equal(next.status, "in_progress");
    assert.equal(next.assignedTo, "w1");
    assert.ok(Number(next.leaseToken) > Number(t.leaseToken), "a newer fencing token");
    assert.equal(Number(next.leaseExpiresAt), Number(next.claimedAt) + 30_000);
    assert.deepEqual(await hash(fx, next.id), next);
    assert.deepEqual(await redis.smembers(fx.q.worker("w1")), [next.id]);
    assert.deepEqual(await redis.smembers(fx.q.workers), ["w1"]);

    const all = await events(fx);
    assert.deepEqual(
      all.slice(-2).map((e) => [e.event, e.payload.task.id, e.payload.workerId]),
      [
        ["task.completed", t.id, "w1"],
        ["task.claimed", next.id, "w1"],
      ],
    );
    await assertInvariant(fx);
  });

  it("OK with nothing to claim; N at once; only the given channel; capabilities respected", async () => {
    const fx = fixture();
    await create(fx);
    const t = await claimOne(fx, "w1");
    const empty = await completeAndClaim(fx, t.id, "w1", t.leaseToken as string);
    assert.equal(empty[0], "OK");
    assert.deepEqual(empty[2], ["OK"]);

    await create(fx, { channel: "a", priority: 10 }); // t-2
    await create(fx, { priority: 100 }); // t-3: no channel
    await create(fx, { channel: "a", priority: 50, requires: ["gpu"] }); // t-4
    await create(fx, { channel: "a", priority: 40 }); // t-5
    await create(fx, { channel: "b", priority: 90 }); // t-6
    const u = await claimOne(fx, "w2", { channel: "b" });
    assert.equal(u.id, "t-6");
    const reply = await completeAndClaim(fx, u.id, "w2", u.leaseToken as string, { channel: "a", count: 10 });
    assert.deepEqual(
      (reply[2] as Reply).slice(1).map((f) => toHash(f).id),
      ["t-5", "t-2"],
      "channel a only, best first, skipping the task that needs a gpu",
    );
    assert.deepEqual(await redis.zrange(fx.q.pending, 0, -1), ["t-3", "t-4"]);
    await assertInvariant(fx);
  });

  it("capacity: the slot the completion frees counts; AT_CAPACITY when the worker is still full", async () => {
    const fx = fixture();
    for (let i = 0; i < 4; i++) await create(fx);
    const [a, b] = await claim(fx, "w1", { count: 2 });
    assert.ok(a && b);
    // capacity 2, holding 2: completing one leaves room for exactly one, even when asked for three
    const reply = await completeAndClaim(fx, a.id, "w1", a.leaseToken as string, { capacity: 2, count: 3 });
    assert.equal((reply[2] as Reply).length, 2);
    assert.equal(await redis.scard(fx.q.worker("w1")), 2);
    // capacity 1 while holding 2: still full after the completion; the completion stands
    const full = await completeAndClaim(fx, b.id, "w1", b.leaseToken as string, { capacity: 1 });
    assert.equal(full[0], "OK");
    assert.deepEqual(full[2], ["AT_CAPACITY", 1, 1]);
    assert.equal((await hash(fx, b.id)).status, "completed");
    // "registered": the maxTasks of the worker's instance record
    await redis.hset(fx.q.instance("w1"), "maxTasks", "2");
    const [held] = await redis.smembers(fx.q.worker("w1"));
    const h = await hash(fx, held as string);
    const registered = await completeAndClaim(fx, h.id, "w1", h.leaseToken as string, {
      capacity: "registered",
      count: 5,
    });
    assert.equal((registered[2] as Reply).length, 2, "room for 2 after the completion, 1 task left");
    await assertInvariant(fx);
  });

  it("NOT_FOUND and LEASE_LOST: nothing completed, nothing claimed", async () => {
    const fx = fixture();
    assert.deepEqual(await completeAndClaim(fx, "t-9", "w1", ""), ["NOT_FOUND"]);
    await create(fx);
    const t = await claimOne(fx, "w1");
    await create(fx);
    const before = await redis.zrange(fx.q.pending, 0, -1);
    assert.deepEqual(await completeAndClaim(fx, t.id, "w1", String(Number(t.leaseToken) + 1)), [
      "LEASE_LOST",
      "in_progress",
      "w1",
    ]);
    assert.deepEqual(await completeAndClaim(fx, t.id, "w2", ""), ["LEASE_LOST", "in_progress", "w1"]);
    assert.deepEqual(await redis.zrange(fx.q.pending, 0, -1), before);
    assert.equal((await hash(fx, t.id)).status, "in_progress");
    assert.deepEqual(await eventNames(fx, t.id), ["task.created", "task.claimed"]);
    await assertInvariant(fx);
  });

  it("under concurrency every task is claimed and completed exactly once", async () => {
    const fx = fixture();
    const total = 300;
    for (let i = 0; i < total; i++) await create(fx, { priority: i % 7 });
    // 8 workers: each claims once, then loops completeAndClaim; 4 plain claimers compete with them
    const looper = async (worker: string) => {
      let [task] = await fx.queue.claim({ workerId: worker, count: 1 });
      while (task) {
        const { next } = await fx.queue.completeAndClaim(
          task.id,
          { workerId: worker, token: task.leaseToken },
          null,
          {
            count: 1,
          },
        );
        task = next[0];
      }
    };
    const claimer = async (worker: string) => {
      for (;;) {
        const [task] = await fx.queue.claim({ workerId: worker, count: 1 });
        if (!task) return;
        await fx.queue.complete(task.id, { workerId: worker, token: task.leaseToken });
      }
    };
    await Promise.all([
      ...Array.from({ length: 8 }, (_, k) => looper(`loop-${k}`)),
      ...Array.from({ length: 4 }, (_, k) => claimer(`plain-${k}`)),
    ]);
    const counts = new Map<string, { claimed: number; completed: number }>();
    for (const e of await events(fx)) {
      const c = counts.get(e.payload.task.id) ?? { claimed: 0, completed: 0 };
      if (e.event === "task.claimed") c.claimed++;
      if (e.event === "task.completed") c.completed++;
      counts.set(e.payload.task.id, c);
    }
    assert.equal(counts.size, total);
    for (const [id, c] of counts) assert.deepEqual(c, { claimed: 1, completed: 1 }, id);
    assert.equal(await redis.zcard(fx.q.status("completed")), total);
    await assertInvariant(fx);
  });
});

describe("failTask", () => {
  it("RETRY: back to pending via the delayed set after base * 2^(attempts-1), capped, ±20 %", async () => {
    const fx = fixture();
    const delays: number[] = [];
    for (let seed = 1; seed <= 6; seed++) {
      const t = await create(fx, { maxAttempts: 5, channel: "c" });
      const c = await claimOne(fx, "w1");
      assert.equal(c.id, t.id);
      const reply = await fail(fx, t.id, "w1", c.leaseToken as string, {
        error: "flaky",
        baseMs: 1000,
        seed,
      });
      assert.equal(reply[0], "RETRY");
      const r = toHash(reply[1]);
      assert.deepEqual(await hash(fx, t.id), r);
      assert.equal(r.status, "pending");
      assert.equal(r.attempts, "1");
      assert.equal(r.error, "flaky");
      for (const gone of ["assignedTo", "claimedAt", "leaseToken", "leaseExpiresAt"])
        assert.equal(r[gone], undefined, gone);
      const delay = Number(r.runAfter) - Number(r.updatedAt);
      assert.ok(delay >= 800 && delay <= 1200, `backoff ${delay} not within 1000 ± 20 %`);
      delays.push(delay);
      assert.deepEqual(await holding(fx, t.id), ["all", "delayed", "st:pending"]);
      assert.equal(await score(fx.q.delayed, t.id), Number(r.runAfter));
      assert.deepEqual((await eventNames(fx, t.id)).slice(-2), ["task.failed", "task.retrying"]);
      const [failed, retrying] = (await events(fx)).slice(-2);
      assert.equal(failed?.payload.workerId, "w1");
      assert.equal(failed?.payload.error, "flaky");
      assert.equal(failed?.payload.retryable, true);
      assert.equal(retrying?.payload.reason, "flaky");
      assert.equal(retrying?.payload.retryAt, Number(r.runAfter));
    }
    assert.ok(new Set(delays).size > 1, `no jitter: ${delays.join(", ")}`);

    // the second attempt waits 2000 ± 20 %, the third 4000 capped at 1500, ± 20 %
    const t = await create(fx, { maxAttempts: 5, priority: 100 });
    const first = await claimOne(fx, "w1");
    assert.equal(first.id, t.id);
    assert.equal((await fail(fx, t.id, "w1", first.leaseToken as string, { baseMs: 1000 }))[0], "RETRY");
    for (const [capMs, low, high] of [
      [60_000, 1600, 2400],
      [1500, 1200, 1800],
    ] as const) {
      await redis.zadd(fx.q.delayed, "XX", 0, t.id); // due now
      await promote(fx);
      const c = await claimOne(fx, "w1");
      assert.equal(c.id, t.id);
      const reply = await fail(fx, t.id, "w1", c.leaseToken as string, { baseMs: 1000, capMs, seed: 3 });
      assert.equal(reply[0], "RETRY");
      const r = toHash(reply[1]);
      const delay = Number(r.runAfter) - Number(r.updatedAt);
      assert.ok(
        delay >= low && delay <= high,
        `attempt ${r.attempts}: backoff ${delay} not in [${low}, ${high}]`,
      );
    }
    await assertInvariant(fx);
  });

  it("DEAD: when the attempts are spent, and at once when not retryable", async () => {
    const fx = fixture();
    const spent = await create(fx, { maxAttempts: 1 });
    const c = await claimOne(fx, "w1");
    const reply = await fail(fx, spent.id, "w1", c.leaseToken as string, { error: "no luck" });
    assert.equal(reply[0], "DEAD");
    const d = toHash(reply[1]);
    assert.deepEqual(await hash(fx, spent.id), d);
    assert.equal(d.status, "failed");
    assert.equal(d.deadLettered, "1");
    assert.equal(d.error, "no luck");
    assert.equal(d.leaseToken, undefined);
    assert.deepEqual(await holding(fx, spent.id), ["all", "dead", "finished", "st:failed"]);
    assert.deepEqual(await eventNames(fx, spent.id), [
      "task.created",
      "task.claimed",
      "task.failed",
      "task.dead_lettered",
    ]);
    assert.equal((await lastEvent(fx)).payload.reason, "no luck");

    const fatal = await create(fx, { maxAttempts: 5 });
    const f = await claimOne(fx, "w1");
    const dead = await fail(fx, fatal.id, "", f.leaseToken as string, {
      error: "bad input",
      retryable: false,
    });
    assert.equal(dead[0], "DEAD");
    assert.equal(toHash(dead[1]).attempts, "1");
    assert.equal((await events(fx)).at(-2)?.payload.retryable, false);
    assert.deepEqual(await holding(fx, fatal.id), ["all", "dead", "finished", "st:failed"]);
    await assertInvariant(fx);
  });

  it("NOT_FOUND and LEASE_LOST", async () => {
    const fx = fixture();
    assert.deepEqual(await fail(fx, "t-5", "w1", ""), ["NOT_FOUND"]);
    const t = await create(fx);
    assert.deepEqual(await fail(fx, t.id, "w1", ""), ["LEASE_LOST", "pending", ""]);
    const c = await claimOne(fx, "w1");
    assert.deepEqual(await fail(fx, t.id, "w2", ""), ["LEASE_LOST", "in_progress", "w1"]);
    assert.deepEqual(await fail(fx, t.id, "w1", String(Number(c.leaseToken) - 1)), [
      "LEASE_LOST",
      "in_progress",
      "w1",
    ]);
    assert.equal((await hash(fx, t.id)).status, "in_progress");
    assert.deepEqual(await eventNames(fx, t.id), ["task.created", "task.claimed"]);
    await assertInvariant(fx);
  });
});

describe("releaseTask", () => {
  it("OK: back at its original place, the attempt not counted, with the unassigned event", async () => {
    const fx = fixture();
    for (let i = 0; i < 3; i++) await create(fx, { priority: 50, channel: "c" });
    const a = await claimOne(fx, "w1");
    assert.equal(a.id, "t-1");
    const reply = await release(fx, a.id, "w1", a.leaseToken as string);
    assert.equal(reply[0], "OK");
    assert.equal(reply[2], "w1");
    const r = toHash(reply[1]);
    assert.deepEqual(await hash(fx, a.id), r);
    assert.equal(r.status, "pending");
    assert.equal(r.attempts, "0");
    for (const gone of ["assignedTo", "claimedAt", "leaseToken", "leaseExpiresAt"])
      assert.equal(r[gone], undefined, gone);
    assert.deepEqual(await holding(fx, a.id), ["all", "pending", "pending:ch:c", "st:pending"]);
    const ev = await lastEvent(fx);
    assert.equal(ev.event, "task.unassigned");
    assert.equal(ev.payload.previousAssignment, "w1");

    const again = await claim(fx, "w2", { count: 3 });
    assert.deepEqual(
      again.map((t) => t.id),
      ["t-1", "t-2", "t-3"],
    );
    assert.equal(again[0]?.attempts, "1");
    // an admin release (no holder given) takes it from whoever holds it
    const admin = await release(fx, "t-2");
    assert.equal(admin[0], "OK");
    assert.equal(admin[2], "w2");
    await assertInvariant(fx);
  });

  it("puts a task with a ttl back in the expiry set", async () => {
    const fx = fixture();
    const t = await create(fx, { ttlMs: 60_000 });
    const c = await claimOne(fx, "w1");
    assert.deepEqual(await holding(fx, t.id), ["all", "leases", "st:in_progress", "w:w1"]);
    assert.equal((await release(fx, t.id, "w1", c.leaseToken as string))[0], "OK");
    assert.equal(await score(fx.q.ttl, t.id), Number(t.expiresAt));
    await assertInvariant(fx);
  });

  it("CONFLICT (not in progress), LEASE_LOST (another holder) and NOT_FOUND", async () => {
    const fx = fixture();
    assert.deepEqual(await release(fx, "t-77"), ["NOT_FOUND"]);
    const t = await create(fx);
    assert.deepEqual(await release(fx, t.id), ["CONFLICT", "pending"]);
    const c = await claimOne(fx, "w1");
    assert.deepEqual(await release(fx, t.id, "w2"), ["LEASE_LOST", "in_progress", "w1"]);
    assert.deepEqual(await release(fx, t.id, "w1", String(Number(c.leaseToken) + 5)), [
      "LEASE_LOST",
      "in_progress",
      "w1",
    ]);
    await complete(fx, t.id, "w1", "");
    assert.deepEqual(await release(fx, t.id, "w1"), ["CONFLICT", "completed"]);
    await assertInvariant(fx);
  });
});

describe("cancelTask", () => {
  it("OK: a pending, a delayed and an in-progress task; the holder's completion is then refused", async () => {
    const fx = fixture();
    const waiting = await create(fx, { channel: "c", ttlMs: 60_000 });
    const reply = await cancel(fx, waiting.id, "not needed");
    assert.equal(reply[0], "OK");
    const w = toHash(reply[1]);
    assert.deepEqual(await hash(fx, waiting.id), w);
    assert.equal(w.status, "cancelled");
    assert.equal(w.error, "not needed");
    assert.ok(Number(w.completedAt) > 0);
    assert.deepEqual(await holding(fx, waiting.id), ["all", "finished", "st:cancelled"]);
    let ev = await lastEvent(fx);
    assert.equal(ev.event, "task.cancelled");
    assert.equal(ev.payload.previousAssignment, undefined);

    const later = await create(fx, { delayMs: 60_000 });
    assert.equal((await cancel(fx, later.id))[0], "OK");
    assert.equal((await hash(fx, later.id)).error, undefined);
    assert.deepEqual(await holding(fx, later.id), ["all", "finished", "st:cancelled"]);

    await create(fx);
    const held = await claimOne(fx, "w1");
    const cancelled = await cancel(fx, held.id);
    assert.equal(cancelled[0], "OK");
    assert.deepEqual(await holding(fx, held.id), ["all", "finished", "st:cancelled"]);
    assert.equal(await redis.exists(fx.q.worker("w1")), 0);
    ev = await lastEvent(fx);
    assert.equal(ev.event, "task.cancelled");
    assert.equal(ev.payload.previousAssignment, "w1");
    const lost = await complete(fx, held.id, "w1", held.leaseToken as string);
    assert.equal(lost[0], "LEASE_LOST");
    assert.equal(lost[1], "cancelled");
    assert.equal((await fail(fx, held.id, "w1", held.leaseToken as string))[0], "LEASE_LOST");
    assert.equal((await renew(fx, held.id, "w1", held.leaseToken as string, 5000))[0], "LEASE_LOST");
    assert.equal((await hash(fx, held.id)).status, "cancelled");
    await assertInvariant(fx);
  });

  it("CONFLICT when already finished, NOT_FOUND", async () => {
    const fx = fixture();
    assert.deepEqual(await cancel(fx, "t-3"), ["NOT_FOUND"]);
    const t = await create(fx);
    await claimOne(fx, "w1");
    await complete(fx, t.id, "w1", "");
    assert.deepEqual(await cancel(fx, t.id), ["CONFLICT", "completed"]);
    const u = await create(fx);
    await cancel(fx, u.id);
    assert.deepEqual(await cancel(fx, u.id), ["CONFLICT", "cancelled"]);
    const v = await create(fx, { maxAttempts: 1 });
    const c = await claimOne(fx, "w1");
    await fail(fx, v.id, "w1", c.leaseToken as string);
    assert.deepEqual(await cancel(fx, v.id), ["CONFLICT", "failed"]);
    await assertInvariant(fx);
  });
});

describe("deleteTask", () => {
  it("OK: the task leaves every structure in any state, with the deleted event", async () => {
    const fx = fixture();
    const waiting = await create(fx, { channel: "c", ttlMs: 60_000, idem: "del-1" });
    const later = await create(fx, { delayMs: 60_000, ttlMs: 60_000 });
    await create(fx, { priority: 100 });
    const held = await claimOne(fx, "w1");
    const deadOne = await create(fx, { maxAttempts: 1, priority: 100 });
    const d = await claimOne(fx, "w2");
    assert.equal(d.id, deadOne.id);
    await fail(fx, d.id, "w2", "");
    const doneOne = await create(fx, { priority: 100 });
    await claimOne(fx, "w3");
    await complete(fx, doneOne.id, "w3", "", "1");

    for (const id of [waiting.id, later.id, held.id, deadOne.id, doneOne.id]) {
      const before = await hash(fx, id);
      assert.ok((await holding(fx, id)).length > 0);
      const reply = await del(fx, id);
      assert.equal(reply[0], "OK", id);
      assert.deepEqual(toHash(reply[1]), before);
      assert.equal(await redis.exists(fx.q.task(id)), 0);
      assert.deepEqual(await holding(fx, id), [], id);
      const ev = await lastEvent(fx);
      assert.equal(ev.event, "task.deleted");
      assert.equal(ev.payload.task.id, id);
    }
    assert.equal(await redis.exists(fx.q.idempotency("del-1")), 0);
    assert.equal(await redis.exists(fx.q.worker("w1")), 0);
    await reap(fx);
    assert.deepEqual(await redis.smembers(fx.q.workers), []);
    // the idempotency key is free again
    assert.equal((await createRaw(fx, { idem: "del-1" }))[0], "OK");
    await assertInvariant(fx);
  });

  it("NOT_FOUND, and CONFLICT when the expected status or channel no longer matches", async () => {
    const fx = fixture();
    assert.deepEqual(await del(fx, "t-12"), ["NOT_FOUND"]);
    const inA = await create(fx, { channel: "a" });
    const plain = await create(fx);
    assert.deepEqual(await del(fx, inA.id, "completed"), ["CONFLICT", "pending"]);
    assert.deepEqual(await del(fx, inA.id, "pending", "b"), ["CONFLICT", "pending"]);
    assert.deepEqual(await del(fx, plain.id, "", "a"), ["CONFLICT", "pending"]);
    assert.deepEqual(await hash(fx, inA.id), inA);
    assert.deepEqual(await holding(fx, inA.id), ["all", "pending", "pending:ch:a", "st:pending"]);
    assert.deepEqual(
      (await events(fx)).map((e) => e.event),
      ["task.created", "task.created"],
    );
    assert.equal((await del(fx, inA.id, "pending", "a"))[0], "OK");
    assert.deepEqual(await del(fx, inA.id), ["NOT_FOUND"]);
    await assertInvariant(fx);
  });
});

describe("retryTask", () => {
  it("OK: from the dead letters and from cancelled, fresh attempts, at the original place", async () => {
    const fx = fixture();
    const a = await create(fx, { maxAttempts: 1, channel: "c" });
    const b = await create(fx);
    const c = await create(fx);
    const claimed = await claimOne(fx, "w1");
    assert.equal(claimed.id, a.id);
    await fail(fx, a.id, "w1", claimed.leaseToken as string, { error: "x" });
    await cancel(fx, c.id, "why not");

    const reply = await retry(fx, a.id);
    assert.equal(reply[0], "OK");
    const r = toHash(reply[1]);
    assert.deepEqual(await hash(fx, a.id), r);
    assert.equal(r.status, "pending");
    assert.equal(r.attempts, "0");
    for (const gone of [
      "error",
      "deadLettered",
      "completedAt",
      "assignedTo",
      "claimedAt",
      "runAfter",
      "result",
    ])
      assert.equal(r[gone], undefined, gone);
    assert.deepEqual(await holding(fx, a.id), ["all", "pending", "pending:ch:c", "st:pending"]);
    assert.equal((await lastEvent(fx)).event, "task.retried");

    const fromCancelled = await retry(fx, c.id);
    assert.equal(fromCancelled[0], "OK");
    assert.equal(toHash(fromCancelled[1]).error, undefined);
    assert.deepEqual(await holding(fx, c.id), ["all", "pending", "st:pending"]);

    assert.deepEqual(
      (await claim(fx, "w2", { count: 3 })).map((t) => t.id),
      [a.id, b.id, c.id],
    );
    await assertInvariant(fx);
  });

  it("CONFLICT when not failed or cancelled, NOT_FOUND", async () => {
    const fx = fixture();
    assert.deepEqual(await retry(fx, "t-8"), ["NOT_FOUND"]);
    const t = await create(fx);
    assert.deepEqual(await retry(fx, t.id), ["CONFLICT", "pending"]);
    await claimOne(fx, "w1");
    assert.deepEqual(await retry(fx, t.id), ["CONFLICT", "in_progress"]);
    await complete(fx, t.id, "w1", "");
    assert.deepEqual(await retry(fx, t.id), ["CONFLICT", "completed"]);
    await assertInvariant(fx);
  });
});

describe("updateTask", () => {
  it("OK: a priority change re-orders a pending task (and its channel index)", async () => {
    const fx = fixture();
    const low = await create(fx, { priority: 10, channel: "c" });
    await create(fx, { priority: 50, channel: "c" });
    const reply = await update(fx, low.id, "priority", "90");
    assert.equal(reply[0], "OK");
    const u = toHash(reply[1]);
    assert.equal(u.priority, "90");
    assert.equal(await score(fx.q.pending, low.id), 10 * SPAN + 1);
    assert.equal(await score(fx.q.channel("c"), low.id), 10 * SPAN + 1);
    const ev = await lastEvent(fx);
    assert.equal(ev.event, "task.updated");
    assert.deepEqual(ev.payload.changed, ["priority"]);
    assert.equal((await claimOne(fx, "w1", { channel: "c" })).id, low.id);

    // a delayed task stays delayed; an in-progress one stays leased
    const later = await create(fx, { delayMs: 60_000 });
    assert.equal((await update(fx, later.id, "priority", "100"))[0], "OK");
    assert.deepEqual(await holding(fx, later.id), ["all", "delayed", "st:pending"]);
    assert.equal((await update(fx, low.id, "priority", "5"))[0], "OK");
    assert.deepEqual(await holding(fx, low.id), ["all", "leases", "st:in_progress", "w:w1"]);
    await assertInvariant(fx);
  });

  it("OK: metadata merged entry by entry (empty value removes), description and channel cleared", async () => {
    const fx = fixture();
    const t = await create(fx, { description: "d", channel: "a", meta: { keep: 1, drop: "x" } });
    const reply = await update(
      fx,
      t.id,
      "text",
      "new text",
      "m:drop",
      "",
      "m:add",
      JSON.stringify({ z: [1] }),
      "description",
      "",
      "maxAttempts",
      "7",
    );
    assert.equal(reply[0], "OK");
    const u = await hash(fx, t.id);
    assert.deepEqual(toHash(reply[1]), u);
    assert.equal(u.text, "new text");
    assert.equal(u["m:keep"], "1");
    assert.equal(u["m:drop"], undefined);
    assert.equal(u["m:add"], '{"z":[1]}');
    assert.equal(u.description, undefined);
    assert.equal(u.maxAttempts, "7");
    assert.equal(u.channel, "a");
    assert.ok(Number(u.updatedAt) >= Number(t.updatedAt));
    assert.deepEqual((await lastEvent(fx)).payload.changed, [
      "text",
      "m:drop",
      "m:add",
      "description",
      "maxAttempts",
    ]);

    assert.equal((await update(fx, t.id, "channel", "b"))[0], "OK");
    assert.deepEqual(await holding(fx, t.id), ["all", "pending", "pending:ch:b", "st:pending"]);
    assert.equal((await update(fx, t.id, "channel", ""))[0], "OK");
    assert.equal((await hash(fx, t.id)).channel, undefined);
    assert.deepEqual(await holding(fx, t.id), ["all", "pending", "st:pending"]);
    await assertInvariant(fx);
  });

  it("status: pending → cancelled and failed → pending; the same status is no change", async () => {
    const fx = fixture();
    const t = await create(fx);
    assert.equal((await update(fx, t.id, "status", "pending", "text", "same"))[0], "OK");
    assert.equal((await lastEvent(fx)).event, "task.updated");
    const cancelled = await update(fx, t.id, "status", "cancelled");
    assert.equal(cancelled[0], "OK");
    assert.equal(toHash(cancelled[1]).status, "cancelled");
    assert.equal((await lastEvent(fx)).event, "task.cancelled");
    assert.deepEqual(await holding(fx, t.id), ["all", "finished", "st:cancelled"]);
    assert.equal((await update(fx, t.id, "status", "pending"))[0], "OK");
    assert.equal((await lastEvent(fx)).event, "task.retried");
    assert.deepEqual(await holding(fx, t.id), ["all", "pending", "st:pending"]);

    const c = await claimOne(fx, "w1");
    await fail(fx, t.id, "w1", c.leaseToken as string, { retryable: false });
    const back = await update(fx, t.id, "status", "pending", "priority", "80");
    assert.equal(back[0], "OK");
    const b = toHash(back[1]);
    assert.equal(b.status, "pending");
    assert.equal(b.attempts, "0");
    assert.equal(b.deadLettered, undefined);
    assert.equal(await score(fx.q.pending, t.id), 20 * SPAN + 1);
    assert.deepEqual(await holding(fx, t.id), ["all", "pending", "st:pending"]);
    await assertInvariant(fx);
  });

  it("CONFLICT for a forbidden status move (nothing changed), NOT_FOUND", async () => {
    const fx = fixture();
    assert.deepEqual(await update(fx, "t-4", "text", "x"), ["NOT_FOUND"]);
    const t = await create(fx, { priority: 30 });
    const eventsBefore = (await events(fx)).length;
    assert.deepEqual(await update(fx, t.id, "priority", "99", "status", "completed"), [
      "CONFLICT",
      "pending",
      "completed",
    ]);
    assert.deepEqual(await update(fx, t.id, "status", "in_progress"), ["CONFLICT", "pending", "in_progress"]);
    assert.deepEqual(await hash(fx, t.id), t);
    assert.equal(await score(fx.q.pending, t.id), orderScore(t));
    await claimOne(fx, "w1");
    assert.deepEqual(await update(fx, t.id, "status", "pending"), ["CONFLICT", "in_progress", "pending"]);
    assert.deepEqual(await update(fx, t.id, "status", "cancelled"), ["CONFLICT", "in_progress", "cancelled"]);
    await complete(fx, t.id, "w1", "");
    assert.deepEqual(await update(fx, t.id, "status", "pending"), ["CONFLICT", "completed", "pending"]);
    assert.deepEqual(
      (await events(fx)).slice(eventsBefore).map((e) => e.event),
      ["task.claimed", "task.completed"],
    );
    await assertInvariant(fx);
  });
});

describe("reapLeases", () => {
  it("retries an expired lease with attempts kept and a backoff; dead-letters one whose attempts are spent", async () => {
    const fx = fixture();
    const again = await create(fx, { maxAttempts: 3, priority: 90 });
    const spent = await create(fx, { maxAttempts: 1, priority: 80 });
    const alive = await create(fx, { priority: 10 });
    const [a, s] = await claim(fx, "w1", { count: 2, leaseMs: 50 });
    assert.equal(a?.id, again.id);
    assert.equal(s?.id, spent.id);
    const live = await claimOne(fx, "w2", { leaseMs: 60_000 });
    assert.equal(live.id, alive.id);

    await redisTimePast(Math.max(Number(a?.leaseExpiresAt), Number(s?.leaseExpiresAt)));
    assert.deepEqual(await reap(fx, { baseMs: 1000 }), [1, 1]);

    const r = await hash(fx, again.id);
    assert.equal(r.status, "pending");
    assert.equal(r.attempts, "1");
    assert.equal(r.error, "lease expired");
    assert.equal(r.assignedTo, undefined);
    assert.equal(r.leaseToken, undefined);
    const delay = Number(r.runAfter) - Number(r.updatedAt);
    assert.ok(delay >= 800 && delay <= 1200, `backoff ${delay}`);
    assert.deepEqual(await holding(fx, again.id), ["all", "delayed", "st:pending"]);
    assert.deepEqual(await eventNames(fx, again.id), [
      "task.created",
      "task.claimed",
      "task.lease_expired",
      "task.retrying",
    ]);

    const d = await hash(fx, spent.id);
    assert.equal(d.status, "failed");
    assert.equal(d.deadLettered, "1");
    assert.equal(d.error, "lease expired");
    assert.deepEqual(await holding(fx, spent.id), ["all", "dead", "finished", "st:failed"]);
    assert.deepEqual(await eventNames(fx, spent.id), [
      "task.created",
      "task.claimed",
      "task.lease_expired",
      "task.dead_lettered",
    ]);
    const expiredEvent = (await events(fx)).find(
      (e) => e.event === "task.lease_expired" && e.payload.task.id === again.id,
    );
    assert.equal(expiredEvent?.payload.workerId, "w1");

    // the live lease is untouched; the old holder's late completion is refused
    assert.equal((await hash(fx, alive.id)).status, "in_progress");
    assert.deepEqual(await complete(fx, again.id, "w1", a?.leaseToken as string), [
      "LEASE_LOST",
      "pending",
      "",
    ]);
    assert.equal(await redis.exists(fx.q.worker("w1")), 0);
    assert.deepEqual(await reap(fx), [0, 0]);
    await assertInvariant(fx);
  });

  it("prunes workers that hold nothing from the workers set, and only those", async () => {
    const fx = fixture();
    const a = await create(fx);
    await create(fx);
    await claimOne(fx, "idle");
    await claimOne(fx, "busy");
    await complete(fx, a.id, "idle", "");
    await redis.sadd(fx.q.workers, "gone"); // e.g. a worker whose tasks were deleted
    assert.deepEqual((await redis.smembers(fx.q.workers)).sort(), ["busy", "gone", "idle"]);
    assert.deepEqual(await reap(fx), [0, 0]);
    assert.deepEqual(await redis.smembers(fx.q.workers), ["busy"]);
    await assertInvariant(fx);
  });

  it("removes stale lease entries (task gone or not in progress)", async () => {
    const fx = fixture();
    const done = await create(fx);
    await claimOne(fx, "w1");
    await complete(fx, done.id, "w1", "");
    await redis.zadd(fx.q.leases, 1, "t-404", 2, done.id);
    assert.deepEqual(await reap(fx), [0, 0]);
    assert.equal(await redis.zcard(fx.q.leases), 0);
    assert.equal((await hash(fx, done.id)).status, "completed");
    assert.deepEqual(await eventNames(fx, done.id), ["task.created", "task.claimed", "task.completed"]);
    await assertInvariant(fx);
  });
});

describe("promoteDelayed", () => {
  it("makes due delayed tasks claimable at their original place; others wait", async () => {
    const fx = fixture();
    const soon = await create(fx, { delayMs: 50, channel: "c" });
    const later = await create(fx, { delayMs: 60_000 });
    const now = await create(fx);
    assert.equal((await claimOne(fx, "w1")).id, now.id);
    await redisTimePast(Number(soon.runAfter));
    assert.equal(await promote(fx), 1);
    const p = await hash(fx, soon.id);
    assert.equal(p.runAfter, undefined);
    assert.equal(p.status, "pending");
    assert.deepEqual(await holding(fx, soon.id), ["all", "pending", "pending:ch:c", "st:pending"]);
    assert.equal(await score(fx.q.pending, soon.id), orderScore(p));
    assert.deepEqual(await holding(fx, later.id), ["all", "delayed", "st:pending"]);
    assert.equal(await promote(fx), 0);
    assert.equal((await claimOne(fx, "w1")).id, soon.id);
    // a delayed entry whose task is no longer pending is dropped, not enqueued
    await redis.zadd(fx.q.delayed, 1, now.id);
    assert.equal(await promote(fx), 1);
    assert.deepEqual(await holding(fx, now.id), ["all", "leases", "st:in_progress", "w:w1"]);
    await assertInvariant(fx);
  });
});

describe("expireTasks", () => {
  it("fails pending tasks past their ttl with error 'expired'; leaves others", async () => {
    const fx = fixture();
    const short = await create(fx, { ttlMs: 50, channel: "c" });
    const shortDelayed = await create(fx, { ttlMs: 50, delayMs: 60_000 });
    const long = await create(fx, { ttlMs: 60_000 });
    await redisTimePast(Math.max(Number(short.expiresAt), Number(shortDelayed.expiresAt)));
    assert.equal(await expire(fx), 2);
    for (const id of [short.id, shortDelayed.id]) {
      const e = await hash(fx, id);
      assert.equal(e.status, "failed");
      assert.equal(e.error, "expired");
      assert.ok(Number(e.completedAt) >= Number(e.expiresAt));
      assert.equal(e.deadLettered, undefined);
      assert.deepEqual(await holding(fx, id), ["all", "finished", "st:failed"]);
      assert.deepEqual(await eventNames(fx, id), ["task.created", "task.expired"]);
    }
    assert.deepEqual(await holding(fx, long.id), ["all", "pending", "st:pending", "ttl"]);
    assert.equal(await expire(fx), 0);
    // an expired task can be retried
    assert.equal((await retry(fx, short.id))[0], "OK");
    assert.deepEqual(await holding(fx, short.id), ["all", "pending", "pending:ch:c", "st:pending"]);
    await assertInvariant(fx);
  });

  it("drops the ttl entry of a task that was claimed since", async () => {
    const fx = fixture();
    const t = await create(fx, { ttlMs: 60_000 });
    await claimOne(fx, "w1");
    await redis.zadd(fx.q.ttl, 1, t.id);
    assert.equal(await expire(fx), 0);
    assert.equal(await redis.zcard(fx.q.ttl), 0);
    assert.equal((await hash(fx, t.id)).status, "in_progress");
    await assertInvariant(fx);
  });
});

describe("archiveFinished", () => {
  it("removes tasks finished before the cutoff from every index, up to the batch size", async () => {
    const fx = fixture();
    const done = await create(fx, { idem: "arch-1", channel: "c" });
    await claimOne(fx, "w1");
    await complete(fx, done.id, "w1", "");
    const dead = await create(fx, { maxAttempts: 1 });
    await claimOne(fx, "w1");
    await fail(fx, dead.id, "w1", "");
    const cancelled = await create(fx);
    await cancel(fx, cancelled.id);
    const recent = await create(fx);
    await cancel(fx, recent.id);
    const waiting = await create(fx, { priority: 10 });
    await create(fx, { priority: 60 });
    const held = await claimOne(fx, "w2");

    // the first three finished long ago
    for (const id of [done.id, dead.id, cancelled.id]) await redis.zadd(fx.q.finished, "XX", 1000, id);
    const cutoff = Date.now() - 60_000;
    assert.equal(await archive(fx, cutoff, 2), 2);
    assert.equal(await archive(fx, cutoff, 2), 1);
    assert.equal(await archive(fx, cutoff, 2), 0);
    for (const id of [done.id, dead.id, cancelled.id]) {
      assert.equal(await redis.exists(fx.q.task(id)), 0, id);
      assert.deepEqual(await holding(fx, id), [], id);
    }
    assert.equal(await redis.exists(fx.q.idempotency("arch-1")), 0);
    assert.deepEqual(await holding(fx, recent.id), ["all", "finished", "st:cancelled"]);
    assert.deepEqual(await holding(fx, waiting.id), ["all", "pending", "st:pending"]);
    assert.equal((await hash(fx, held.id)).status, "in_progress");
    await assertInvariant(fx);
  });
});

describe("fencing", () => {
  it("the lease token strictly grows across claims, assigns and re-claims", async () => {
    const fx = fixture();
    const tokens: number[] = [];
    const t = await create(fx, { maxAttempts: 10 });
    const other = await create(fx, { priority: 10 });
    let c = await claimOne(fx, "w1");
    tokens.push(Number(c.leaseToken));
    await release(fx, t.id);
    c = await claimOne(fx, "w2");
    tokens.push(Number(c.leaseToken));
    await fail(fx, t.id, "w2", "", { baseMs: 0 });
    await promote(fx);
    c = await claimOne(fx, "w3", { leaseMs: 50 });
    assert.equal(c.id, t.id);
    tokens.push(Number(c.leaseToken));
    await redisTimePast(Number(c.leaseExpiresAt));
    assert.deepEqual(await reap(fx, { baseMs: 0 }), [1, 0]);
    await promote(fx);
    const assigned = await assign(fx, t.id, "w4");
    tokens.push(Number(toHash(assigned[1]).leaseToken));
    c = await claimOne(fx, "w5");
    assert.equal(c.id, other.id);
    tokens.push(Number(c.leaseToken));
    await cancel(fx, t.id);
    await retry(fx, t.id);
    c = await claimOne(fx, "w6");
    tokens.push(Number(c.leaseToken));
    for (let i = 1; i < tokens.length; i++)
      assert.ok((tokens[i] as number) > (tokens[i - 1] as number), `tokens ${tokens.join(", ")}`);
    assert.equal(Number(await redis.get(fx.q.fence)), tokens.at(-1));
    await assertInvariant(fx);
  });
});

describe("OwnedLock (acquireLock / releaseLock)", () => {
  it("acquire, extend by the owner, refuse another owner, release only by the owner", async () => {
    const key = `${uniquePrefix("lock")}:{tasks}:maintenance`;
    const a = new OwnedLock(redis, key, "owner-a");
    const b = new OwnedLock(redis, key, "owner-b");
    assert.equal(await a.acquire(10_000), true);
    assert.equal(await redis.get(key), "owner-a");
    const first = await redis.pttl(key);
    assert.ok(first > 0 && first <= 10_000, `pttl ${first}`);
    assert.equal(await a.acquire(60_000), true);
    assert.ok((await redis.pttl(key)) > 10_000, "the owner's acquire extends the lock");
    assert.equal(await b.acquire(60_000), false);
    assert.equal(await b.release(), false);
    assert.equal(await redis.get(key), "owner-a");
    assert.equal(await a.release(), true);
    assert.equal(await redis.exists(key), 0);
    assert.equal(await a.release(), false);
    // Long enough that a busy machine cannot let it lapse before the next line runs.
    assert.equal(await b.acquire(800), true);
    assert.equal(await a.acquire(50), false);
    // the lock lapses by itself when not extended
    const until = Date.now() + 5000;
    while ((await redis.exists(key)) === 1) {
      assert.ok(Date.now() < until, "the lock never expired");
      await sleep(10);
    }
    assert.equal(await a.acquire(1000), true);
    assert.equal(await redis.get(key), "owner-a");
    assert.equal(await a.release(), true);
  });
});
