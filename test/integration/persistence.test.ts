import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { databaseChoice, loadConfig } from "../../src/config.js";
import type { DomainEvent } from "../../src/contract/events.js";
import type { Task, TaskStatus } from "../../src/contract/tasks.js";
import { createLogger } from "../../src/core/logger.js";
import { parseEventEntry } from "../../src/domain/events/event-log.js";
import { openDatabase } from "../../src/domain/history/open-database.js";
import type { TaskDatabase } from "../../src/domain/history/task-database.js";
import { DataDirLockedError } from "../../src/storage/data-dir-lock.js";
import { freePort, runCli, waitFor } from "../helpers/cli.js";
import { POSTGRES_SKIP, startTestPostgres, type TestPostgres } from "../helpers/postgres.js";
import { startTestRedis, type TestRedis, uniquePrefix } from "../helpers/redis.js";
import { rpc, startTestServer } from "../helpers/server.js";

/**
 * The durable record (persister → PGlite / PostgreSQL) against the event stream it is written
 * from: every transition lands once, in order, and the final rows equal what task.get says;
 * a PostgreSQL outage never blocks Redis-side work and the history catches up afterwards.
 */

type Server = Awaited<ReturnType<typeof startTestServer>>;

/** Quick retries and maintenance: a task that failed is claimable again within ~100 ms. */
const QUICK = { backoffBaseMs: 20, backoffMaxMs: 50, maintenanceIntervalMs: 50 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

let rpcId = 0;
async function call<T = Record<string, unknown>>(
  server: Server,
  method: string,
  params: Record<string, unknown> = {},
): Promise<T> {
  const res = await rpc(server.url, { jsonrpc: "2.0", id: ++rpcId, method, params });
  const body = res.body as { result?: T; error?: { code: number; message: string } };
  if (body?.error) throw new RpcError(body.error.code, `${method}: ${body.error.message}`);
  assert.ok(body && "result" in body, `${method}: no JSON-RPC result (HTTP ${res.status})`);
  return body.result as T;
}

async function callError(server: Server, method: string, params: Record<string, unknown>): Promise<RpcError> {
  try {
    await call(server, method, params);
  } catch (err) {
    if (err instanceof RpcError) return err;
    throw err;
  }
  assert.fail(`${method} ${JSON.stringify(params)} succeeded; an error was expected`);
}

/** Polls `probe` until it reports done; fails naming `what` and the last state seen. */
async function until<T>(
  what: string,
  probe: () => Promise<{ done: boolean; value?: T; state: string }>,
  timeoutMs = 90_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = "(never answered)";
  for (;;) {
    try {
      const outcome = await probe();
      if (outcome.done) return outcome.value as T;
      last = outcome.state;
    } catch (err) {
      last = `error: ${(err as Error).message}`;
    }
    if (Date.now() > deadline)
      assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${last}`);
    await sleep(50);
  }
}

/** Runs fn(from..to-1), `limit` at a time. */
async function inParallel(from: number, to: number, limit: number, fn: (i: number) => Promise<void>) {
  let next = from;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < to) await fn(next++);
    }),
  );
}

interface StreamEvent {
  id: string;
  event: string;
  taskId: string;
  status: string;
}

/** The task.* events on the server's event stream, oldest first. */
async function streamTaskEvents(server: Server): Promise<StreamEvent[]> {
  const { redis, keys } = server;
  const entries = (await redis.xrange(keys.events(), "-", "+")) as [string, string[]][];
  return entries.flatMap((entry) => {
    const e = parseEventEntry(entry);
    if (!e?.event.startsWith("task.")) return [];
    const task = e.payload.task as { id?: string; status?: string } | undefined;
    if (!task?.id) return [];
    return [{ id: e.id, event: e.event, taskId: task.id, status: String(task.status) }];
  });
}

function byTask(events: readonly StreamEvent[]): Map<string, StreamEvent[]> {
  const out = new Map<string, StreamEvent[]>();
  for (const e of events) out.set(e.taskId, [...(out.get(e.taskId) ?? []), e]);
  return out;
}

/** The fields the database keeps, as the API shows them (absent when unset). */
const DB_FIELDS = [
  "id",
  "text",
  "description",
  "priority",
  "status",
  "channel",
  "assignedTo",
  "attempts",
  "maxAttempts",
  "metadata",
  "result",
  "error",
  "deadLettered",
  "createdAt",
  "updatedAt",
  "claimedAt",
  "completedAt",
] as const;

const durable = (task: Partial<Task>) =>
  Object.fromEntries(DB_FIELDS.filter((f) => task[f] !== undefined).map((f) => [f, task[f]]));

/** task.get, or null when it answers -32004 (not found). */
async function liveTask(server: Server, id: string): Promise<Task | null> {
  try {
    return await call<Task>(server, "task.get", { id });
  } catch (err) {
    if (err instanceof RpcError && err.code === -32004) return null;
    throw err;
  }
}

/** What a test reads back from the database: each task's history and its final row. */
interface DbView {
  history(taskId: string): Promise<{ id: string; event: string; status: string }[]>;
  /** The row as the API would show it, null when there is none or it is deleted. */
  task(taskId: string): Promise<Partial<Task> | null>;
}

/** The view through the server's own TaskDatabase (PGlite: nobody else may open its directory). */
const viewOf = (database: TaskDatabase): DbView => ({
  history: async (taskId) =>
    (await database.history(taskId)).map((r) => ({
      id: `${r.eventMs}-${r.eventSeq}`,
      event: r.event,
      status: r.status,
    })),
  task: (taskId) => database.getTask(taskId),
});

interface ClaimResult {
  claimed: boolean;
  task?: Task;
  token?: number;
}

/**
 * Every kind of transition over JSON-RPC, one task per label, each in its own channel so a
 * claim takes exactly that task. Returns label → [task id, the events it must have had].
 */
async function lifecycleMix(server: Server): Promise<Map<string, { id: string; events: string[] }>> {
  const worker = "w-mix";
  const create = (label: string, extra: Record<string, unknown> = {}) =>
    call<Task>(server, "task.create", { text: `task ${label}`, channel: `mix-${label}`, ...extra });
  const claim = async (task: Task) => {
    const claimed = await call<ClaimResult>(server, "task.claim", {
      workerId: worker,
      channel: task.channel,
    });
    assert.equal(claimed.task?.id, task.id, `claim in ${task.channel}`);
    return claimed;
  };
  const out = new Map<string, { id: string; events: string[] }>();
  const done = (label: string, task: Task, events: string[]) =>
    out.set(label, { id: task.id, events: events.map((e) => `task.${e}`) });

  const completed = await create("completed", { description: "plain", metadata: { k: "v", n: 1 } });
  const c1 = await claim(completed);
  await call(server, "task.complete", { id: completed.id, token: c1.token, result: { answer: 42 } });
  done("completed", completed, ["created", "claimed", "completed"]);

  const retried = await create("retried", { maxAttempts: 3 });
  await claim(retried);
  const failed = await call<{ retrying: boolean }>(server, "task.fail", {
    id: retried.id,
    workerId: worker,
    error: "flaky",
    retryable: true,
  });
  assert.equal(failed.retrying, true);
  await until("the retrying task to be claimable again", async () => {
    const again = await call<ClaimResult>(server, "task.claim", {
      workerId: worker,
      channel: retried.channel,
    });
    return { done: again.claimed, state: "still backing off" };
  });
  await call(server, "task.complete", { id: retried.id, workerId: worker, result: "second try" });
  done("retried", retried, ["created", "claimed", "failed", "retrying", "claimed", "completed"]);

  const dead = await create("dead", { maxAttempts: 2 });
  await claim(dead);
  const buried = await call<{ deadLettered: boolean }>(server, "task.fail", {
    id: dead.id,
    workerId: worker,
    error: "fatal",
    retryable: false,
  });
  assert.equal(buried.deadLettered, true);
  done("dead", dead, ["created", "claimed", "failed", "dead_lettered"]);

  const revived = await create("revived", { maxAttempts: 1 });
  await claim(revived);
  const exhausted = await call<{ deadLettered: boolean }>(server, "task.fail", {
    id: revived.id,
    workerId: worker,
    error: "out of attempts",
  });
  assert.equal(exhausted.deadLettered, true);
  await call(server, "task.retry", { id: revived.id });
  const r2 = await claim(revived);
  await call(server, "task.complete", { id: revived.id, token: r2.token, result: [1, 2, 3] });
  done("revived", revived, [
    "created",
    "claimed",
    "failed",
    "dead_lettered",
    "retried",
    "claimed",
    "completed",
  ]);

  const cancelled = await create("cancelled");
  await call(server, "task.cancel", { id: cancelled.id, reason: "no longer needed" });
  done("cancelled", cancelled, ["created", "cancelled"]);

  const updated = await create("updated", {
    priority: 10,
    description: "old",
    metadata: { keep: 1, drop: 2 },
  });
  await call(server, "task.update", {
    id: updated.id,
    updates: { text: "renamed", priority: "high", description: null, metadata: { drop: null, added: [1] } },
  });
  const u1 = await claim(updated);
  await call(server, "task.complete", { id: updated.id, token: u1.token });
  done("updated", updated, ["created", "updated", "claimed", "completed"]);

  const deleted = await create("deleted");
  const d1 = await claim(deleted);
  await call(server, "task.complete", { id: deleted.id, token: d1.token, result: "gone soon" });
  await call(server, "task.delete", { id: deleted.id });
  done("deleted", deleted, ["created", "claimed", "completed", "deleted"]);

  const requeued = await create("requeued");
  await call(server, "task.cancel", { id: requeued.id });
  await call(server, "task.update", { id: requeued.id, updates: { status: "pending" } });
  done("requeued", requeued, ["created", "cancelled", "retried"]);

  const held = await create("held");
  await claim(held);
  done("held", held, ["created", "claimed"]);
  return out;
}

const FINAL: Record<string, TaskStatus | "deleted"> = {
  completed: "completed",
  retried: "completed",
  dead: "failed",
  revived: "completed",
  cancelled: "cancelled",
  updated: "completed",
  deleted: "deleted",
  requeued: "pending",
  held: "in_progress",
};

/**
 * Waits until the database holds every task event of the stream, then compares: per task the
 * same events (stream id, name, status) in the same order; each final row equal to task.get.
 */
async function assertPersisted(
  server: Server,
  view: DbView,
  mix: Map<string, { id: string; events: string[] }>,
) {
  const stream = byTask(await streamTaskEvents(server));
  for (const [label, { id, events }] of mix) {
    assert.deepEqual(
      stream.get(id)?.map((e) => e.event),
      events,
      `stream events of ${label} (${id})`,
    );
  }
  assert.deepEqual([...stream.keys()].sort(), [...mix.values()].map((t) => t.id).sort());

  await until("the database to hold every task event of the stream", async () => {
    const behind: string[] = [];
    for (const [taskId, events] of stream) {
      const rows = await view.history(taskId);
      if (rows.length !== events.length) behind.push(`${taskId} ${rows.length}/${events.length}`);
    }
    return { done: behind.length === 0, state: `behind: ${behind.join(", ")}` };
  });

  for (const [label, { id }] of mix) {
    const history = await view.history(id);
    assert.deepEqual(
      history,
      (stream.get(id) ?? []).map(({ id, event, status }) => ({ id, event, status })),
      `database history of ${label} (${id})`,
    );
    const live = await liveTask(server, id);
    const row = await view.task(id);
    if (FINAL[label] === "deleted") {
      assert.equal(live, null, `${label} is deleted`);
      assert.equal(row, null, `${label}'s row is marked deleted`);
      continue;
    }
    assert.ok(live, `task.get ${id}`);
    assert.equal(live.status, FINAL[label], `final status of ${label}`);
    assert.ok(row, `database row of ${label} (${id})`);
    assert.deepEqual(durable(row), durable(live), `database row of ${label} (${id}) equals task.get`);
  }
}

/** A task finished and archived out of Redis is still served by task.get, from the database. */
async function assertArchiveFallback(server: Server, archive: TaskDatabase) {
  const created = await call<Task>(server, "task.create", { text: "to archive", channel: "archive" });
  const claimed = await call<ClaimResult>(server, "task.claim", { workerId: "w-arch", channel: "archive" });
  await call(server, "task.complete", { id: created.id, token: claimed.token, result: { kept: true } });
  const live = await call<Task>(server, "task.get", { id: created.id });
  await until(`${created.id} completed in the database`, async () => {
    const row = await archive.getTask(created.id);
    return { done: row?.status === "completed", state: `row status ${row?.status}` };
  });

  const { tasks } = server.dispatcher.services;
  const { redis } = server;
  const swept = await tasks.maintain(500, Date.now() + 1000);
  assert.ok(swept.archived >= 1, `archived ${swept.archived}`);
  assert.deepEqual(await redis.hgetall(tasks.q.task(created.id)), {}, "the task left Redis");

  const fromDb = await call<Task>(server, "task.get", { id: created.id });
  assert.deepEqual(durable(fromDb), durable(live));
  assert.deepEqual(fromDb.result, { kept: true });

  const missing = await callError(server, "task.get", { id: "t-987654321" });
  assert.equal(missing.code, -32004);
  assert.match(missing.message, /t-987654321 not found/);
  return created.id;
}

/**
 * TaskDatabase.applyEvents is idempotent: a batch applied twice (or holding its events twice)
 * changes nothing; an event older than a row's state does not overwrite it.
 */
async function assertIdempotent(db: TaskDatabase, idBase: number, counts: () => Promise<[number, number]>) {
  const T0 = 1_700_000_000_000;
  const a = `t-${idBase}`;
  const b = `t-${idBase + 1}`;
  const iso = (ms: number) => new Date(ms).toISOString();
  // the task as a DomainEvent carries it (typed by parseEventEntry)
  const snapshot = (id: string, status: TaskStatus, extra: Partial<Task> = {}): Task => ({
    id,
    text: `idempotent ${id}`,
    priority: 50,
    status,
    attempts: 0,
    maxAttempts: 3,
    metadata: {},
    createdAt: iso(T0),
    updatedAt: iso(T0),
    ...extra,
  });
  const event = (
    ms: number,
    seq: number,
    name: string,
    task: Task | Record<string, never>,
    extra = {},
  ): DomainEvent => ({
    id: `${ms}-${seq}`,
    event: name,
    payload: { task, ...extra },
    source: "test",
    ts: ms,
  });
  const createdA = event(T0, 0, "task.created", snapshot(a, "pending"));
  const createdB = event(T0, 1, "task.created", snapshot(b, "pending"));
  const claimedA = event(
    T0 + 5,
    0,
    "task.claimed",
    snapshot(a, "in_progress", {
      attempts: 1,
      assignedTo: "w",
      claimedAt: iso(T0 + 5),
      updatedAt: iso(T0 + 5),
    }),
    { workerId: "w" },
  );
  const completedA = event(
    T0 + 9,
    0,
    "task.completed",
    snapshot(a, "completed", {
      attempts: 1,
      assignedTo: "w",
      claimedAt: iso(T0 + 5),
      completedAt: iso(T0 + 9),
      updatedAt: iso(T0 + 9),
      result: { ok: true },
    }),
    { workerId: "w", runMs: 4 },
  );
  const noise = event(T0 + 9, 1, "hook.pre_tool", {});
  const batch = [createdA, createdB, claimedA, completedA, noise];

  const before = await counts();
  assert.equal(await db.applyEvents(batch), 4, "task events applied (others ignored)");
  const once = await counts();
  assert.deepEqual(once, [before[0] + 2, before[1] + 4], "[tasks, task_events] after the first apply");
  const rowA = await db.getTask(a);
  assert.equal(rowA?.status, "completed");
  assert.equal(rowA?.attempts, 1);
  assert.deepEqual(rowA?.result, { ok: true });

  await db.applyEvents(batch);
  await db.applyEvents([...batch, ...batch]);
  assert.deepEqual(await counts(), once, "[tasks, task_events] after applying the same events again");
  assert.deepEqual(await db.getTask(a), rowA);

  // older events arriving after newer ones: history unchanged, row not overwritten
  await db.applyEvents([claimedA]);
  await db.applyEvents([createdA, claimedA]);
  assert.deepEqual(await counts(), once);
  assert.deepEqual(await db.getTask(a), rowA, "an older event does not overwrite the newer row");
  assert.deepEqual(
    (await db.history(a)).map((r) => [`${r.eventMs}-${r.eventSeq}`, r.event, r.status]),
    [
      [createdA.id, "task.created", "pending"],
      [claimedA.id, "task.claimed", "in_progress"],
      [completedA.id, "task.completed", "completed"],
    ],
  );

  // a newer event does apply, and a late one does not resurrect a deleted task
  const deletedB = event(T0 + 20, 0, "task.deleted", snapshot(b, "pending", { updatedAt: iso(T0 + 20) }));
  await db.applyEvents([deletedB]);
  assert.equal(await db.getTask(b), null, "deleted");
  await db.applyEvents([createdB]);
  assert.equal(await db.getTask(b), null, "still deleted after a replayed older event");
  assert.equal((await db.history(b)).length, 2);
}

/**
 * A TCP proxy to PostgreSQL that, once armed, cuts the connection when a transaction begins:
 * the client connected fine and loses the connection at BEGIN (a restart at the wrong moment).
 */
async function startCuttingProxy(targetPort: number) {
  let armed = false;
  let cuts = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, "127.0.0.1");
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", close);
      socket.on("close", () => {
        sockets.delete(socket);
        close();
      });
    }
    upstream.pipe(client);
    client.on("data", (chunk: Buffer) => {
      if (armed && /\bbegin\b/i.test(chunk.toString("latin1"))) {
        cuts++;
        close();
      } else {
        upstream.write(chunk);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    arm: (on: boolean) => {
      armed = on;
    },
    cuts: () => cuts,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Resolves with `promise`, or fails naming `what` after timeoutMs. */
async function bounded<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe("persistence with PGlite (embedded, in the data directory)", () => {
  let redis: TestRedis;
  let dataDir: string;
  let server: Server;
  let database: TaskDatabase;
  const lockOwner = () =>
    (JSON.parse(readFileSync(join(dataDir, "serve.lock"), "utf8")) as { pid: number }).pid;

  before(async () => {
    redis = await startTestRedis();
    dataDir = mkdtempSync(join(tmpdir(), "cb-test-pglite-"));
    server = await startTestServer({
      redisUrl: redis.url,
      keyPrefix: uniquePrefix("pgl"),
      overrides: { dbMode: "pglite", dataDir, ...QUICK },
    });
    database = server.dispatcher.services.database as TaskDatabase;
  });

  after(async () => {
    await server?.close();
    await redis?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("uses PGlite in the data directory, owning it", () => {
    assert.equal(server.database, `PGlite in ${join(dataDir, "pglite")}`);
    assert.equal(database.kind, "pglite");
    assert.equal(lockOwner(), process.pid);
  });

  it("records every transition of a lifecycle mix, in stream order, and the final rows", async () => {
    const mix = await lifecycleMix(server);
    await assertPersisted(server, viewOf(database), mix);
  });

  it("applies events idempotently and never lets an older event overwrite a newer row", async () => {
    const ids = [900_001, 900_002].map((n) => `t-${n}`);
    // PGlite belongs to the server: count through its TaskDatabase, for the tasks of this test
    const counts = async (): Promise<[number, number]> => {
      let rows = 0;
      let events = 0;
      for (const id of ids) {
        const history = await database.history(id);
        events += history.length;
        // getTask hides deleted rows; a history means a row exists
        if (history.length > 0) rows++;
      }
      return [rows, events];
    };
    await assertIdempotent(database, 900_001, counts);
  });

  it("serves a task archived out of Redis from the database", async () => {
    await assertArchiveFallback(server, database);
  });

  it("refuses a second owner of the data directory, in this process or another", async () => {
    await assert.rejects(
      startTestServer({ redisUrl: redis.url, overrides: { dbMode: "pglite", dataDir } }),
      (err: Error) => {
        assert.ok(err instanceof DataDirLockedError, `${err.name}: ${err.message}`);
        assert.match(err.message, new RegExp(`data directory .* is in use by process ${process.pid}`));
        assert.match(err.message, /stop that server, or start this one with another --data-dir/);
        return true;
      },
    );
    // the refused start left the first server's lock alone
    assert.equal(lockOwner(), process.pid);

    const cli = runCli([
      "serve",
      "--redis-url",
      redis.url,
      "--db",
      "pglite",
      "--data-dir",
      dataDir,
      "--port",
      String(await freePort()),
      "--key-prefix",
      uniquePrefix("pgl2"),
    ]);
    assert.equal(await cli.exited, 1, cli.stderr());
    assert.match(
      cli.stderr(),
      new RegExp(`data directory .* is in use by process ${process.pid}: stop that server`),
    );
    // and the first server still works and persists
    const task = await call<Task>(server, "task.create", { text: "after the refused start" });
    await until("the task in PGlite", async () => {
      const row = await database.getTask(task.id);
      return { done: row?.id === task.id, state: String(row) };
    });
  });
});

describe("persistence with PostgreSQL (DATABASE_URL)", { skip: POSTGRES_SKIP }, () => {
  let redis: TestRedis;
  let postgres: TestPostgres;
  const servers: Server[] = [];
  const pools: pg.Pool[] = [];

  const serverOn = async (database: string) => {
    const url = await postgres.createDatabase(database);
    const server = await startTestServer({
      redisUrl: redis.url,
      keyPrefix: uniquePrefix(database),
      overrides: { databaseUrl: url, ...QUICK },
    });
    servers.push(server);
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    pool.on("error", () => undefined); // the outage test stops the server under it
    pools.push(pool);
    return { server, pool, database: server.dispatcher.services.database as TaskDatabase };
  };

  before(async () => {
    if (POSTGRES_SKIP) return;
    [redis, postgres] = await Promise.all([startTestRedis(), startTestPostgres()]);
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await Promise.all(pools.map((p) => p.end()));
    await postgres?.destroy();
    await redis?.stop();
  });

  it("records every transition of a lifecycle mix; the tables match the stream and task.get", async () => {
    const { server, pool } = await serverOn("mix");
    assert.match(server.database, /^PostgreSQL postgres:\/\/.*127\.0\.0\.1.*\(DATABASE_URL\)$/);
    const mix = await lifecycleMix(server);
    // read the tables directly, not through the server's code
    const view: DbView = {
      history: async (taskId) =>
        (
          await pool.query(
            "select event_ms, event_seq, event, status from task_events where task_id = $1 order by event_ms, event_seq",
            [taskId],
          )
        ).rows.map((r) => ({ id: `${r.event_ms}-${r.event_seq}`, event: r.event, status: r.status })),
      task: async (taskId) => {
        const { rows } = await pool.query("select * from tasks where id = $1", [taskId]);
        const row = rows[0];
        if (!row || row.deleted) return null;
        const iso = (d: Date | null) => (d ? d.toISOString() : undefined);
        return {
          id: row.id,
          text: row.text,
          description: row.description ?? undefined,
          priority: row.priority,
          status: row.status,
          channel: row.channel ?? undefined,
          assignedTo: row.assigned_to ?? undefined,
          attempts: row.attempts,
          maxAttempts: row.max_attempts,
          metadata: row.metadata,
          result: row.result ?? undefined,
          error: row.error ?? undefined,
          deadLettered: row.dead_lettered || undefined,
          createdAt: iso(row.created_at),
          updatedAt: iso(row.updated_at),
          claimedAt: iso(row.claimed_at),
          completedAt: iso(row.completed_at),
        };
      },
    };
    await assertPersisted(server, view, mix);

    const stream = await streamTaskEvents(server);
    const { rows } = await pool.query(
      "select (select count(*)::int from task_events) as events, (select count(*)::int from tasks) as tasks, (select count(*)::int from tasks where deleted) as deleted",
    );
    assert.deepEqual(rows[0], { events: stream.length, tasks: mix.size, deleted: 1 });
    const deleted = await pool.query("select status, deleted from tasks where id = $1", [
      mix.get("deleted")?.id,
    ]);
    assert.deepEqual(deleted.rows, [{ status: "completed", deleted: true }]);
  });

  it("audits every pre-tool decision in hook_decisions", async () => {
    const { server, pool } = await serverOn("audit");
    const denied = await call<{ allow: boolean; rule: string }>(server, "hook.pre_tool", {
      tool: "Bash",
      params: { command: "echo hi && rm -rf /" },
      sessionId: "s-audit",
      cwd: "/home/dev/project",
    });
    assert.equal(denied.allow, false);
    await call(server, "hook.pre_tool", {
      tool: "Bash",
      params: { command: "npm test" },
      sessionId: "s-audit",
    });
    const rows = await until("both decisions in hook_decisions", async () => {
      const { rows } = await pool
        .query(
          "select session_id, tool, decision, rule, summary, links from hook_decisions order by event_ms, event_seq",
        )
        .catch(() => ({ rows: [] as Record<string, unknown>[] }));
      return { done: rows.length === 2, value: rows, state: `${rows.length} rows` };
    });
    // Each row also keeps the hook chain's links that ran (here the policy engine alone) and their time.
    assert.deepEqual(
      rows.map((r) => r.links.map((l: { name: string; outcome: string }) => [l.name, l.outcome])),
      [[["builtin.policy", "deny"]], [["builtin.policy", "allow"]]],
    );
    for (const r of rows) assert.equal(typeof r.links[0].ms, "number");
    assert.deepEqual(
      rows.map(({ links: _links, ...r }) => r),
      [
        {
          session_id: "s-audit",
          tool: "Bash",
          decision: "deny",
          rule: "rm-critical",
          summary: "echo hi && rm -rf /",
        },
        { session_id: "s-audit", tool: "Bash", decision: "allow", rule: null, summary: "npm test" },
      ],
    );
  });

  it("applies events idempotently and never lets an older event overwrite a newer row", async () => {
    const url = await postgres.createDatabase("idem");
    const db = await openDatabase({ kind: "postgres", url }, createLogger("error"));
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    pool.on("error", () => undefined); // idle when the outage test stops the server
    pools.push(pool);
    try {
      const counts = async (): Promise<[number, number]> => {
        const { rows } = await pool.query(
          "select (select count(*)::int from tasks) as tasks, (select count(*)::int from task_events) as events",
        );
        return [rows[0].tasks, rows[0].events];
      };
      await db.prepare();
      await assertIdempotent(db, 1, counts);
    } finally {
      await db.close();
    }
  });

  it("serves a task archived out of Redis from the database", async () => {
    const { server, database } = await serverOn("archive");
    await assertArchiveFallback(server, database);
  });

  it("loses no pool client to a connection cut at BEGIN: persistence resumes, close completes", async () => {
    const url = await postgres.createDatabase("cut");
    const proxy = await startCuttingProxy(postgres.port);
    const db = await openDatabase(
      { kind: "postgres", url: url.replace(`:${postgres.port}/`, `:${proxy.port}/`) },
      createLogger("error"),
    );
    const created = (n: number): DomainEvent => ({
      id: `1700000000000-${n}`,
      event: "task.created",
      payload: {
        task: {
          id: `t-${n}`,
          text: "cut",
          priority: 50,
          status: "pending",
          attempts: 0,
          maxAttempts: 3,
          metadata: {},
          createdAt: "2023-11-14T22:13:20.000Z",
          updatedAt: "2023-11-14T22:13:20.000Z",
        },
      },
      source: "test",
      ts: 1_700_000_000_000,
    });
    try {
      await db.prepare();
      proxy.arm(true);
      // more cuts than the pool (4 connections) has clients
      for (let n = 1; n <= 6; n++) await assert.rejects(db.applyEvents([created(n)]));
      assert.equal(proxy.cuts(), 6);
      proxy.arm(false);
      assert.equal(await bounded(db.applyEvents([created(7)]), 10_000, "applyEvents after the cuts"), 1);
      assert.equal((await db.getTask("t-7"))?.status, "pending");
    } finally {
      await bounded(db.close(), 10_000, "the pool to close (a leaked client keeps it open)");
      await proxy.close();
    }
  });

  it("keeps serving through a PostgreSQL outage; the history catches up exactly once", async () => {
    const { server, pool, database } = await serverOn("outage");
    // a task only the database still knows, to ask for while it is down
    const archivedId = await assertArchiveFallback(server, database);

    const ids: string[] = [];
    const lifecycle = async (i: number) => {
      const channel = `out-${i}`;
      const created = await call<Task>(server, "task.create", { text: `outage ${i}`, channel });
      const claimed = await call<ClaimResult>(server, "task.claim", { workerId: `w-${i % 7}`, channel });
      assert.equal(claimed.task?.id, created.id);
      await call(server, "task.complete", { id: created.id, token: claimed.token, result: { i } });
      ids[i] = created.id;
    };
    await inParallel(0, 80, 8, lifecycle);
    const stopping = postgres.stop(); // pg_ctl stop -m fast, while work goes on
    await inParallel(80, 140, 8, lifecycle);
    await stopping;
    await inParallel(140, 200, 8, lifecycle); // PostgreSQL is down for all of these

    const health = await call<{
      status: string;
      services: Record<string, boolean>;
      checks: { redis: { ok: boolean }; database: { ok: boolean; kind?: string } };
    }>(server, "system.health");
    assert.equal(health.status, "degraded");
    assert.deepEqual(health.services, { redis: true, postgres: false, mcp: true });
    assert.equal(health.checks.database.ok, false);
    assert.equal(health.checks.database.kind, "postgres");
    const unavailable = await callError(server, "task.get", { id: archivedId });
    assert.equal(unavailable.code, -32011, unavailable.message);
    assert.match(unavailable.message, /database does not answer/);

    await postgres.start();
    const stream = await streamTaskEvents(server);
    assert.equal(stream.length, 3 + 200 * 3, "task events in the stream");
    await until(
      "the history to catch up after PostgreSQL came back",
      async () => {
        const { rows } = await pool.query("select count(*)::int as n from task_events");
        return { done: rows[0].n >= stream.length, state: `${rows[0].n}/${stream.length} events persisted` };
      },
      45_000,
    );
    const events = await pool.query(
      "select event_ms, event_seq, task_id, event, status from task_events order by event_ms, event_seq",
    );
    assert.deepEqual(
      events.rows.map((r) => [`${r.event_ms}-${r.event_seq}`, r.task_id, r.event, r.status]),
      stream.map((e) => [e.id, e.taskId, e.event, e.status]),
      "every stream event in task_events exactly once",
    );
    const rows = await pool.query(
      "select id, status, attempts, result, error, deleted from tasks where id = any($1)",
      [ids],
    );
    assert.equal(rows.rows.length, 200);
    const byId = new Map(rows.rows.map((r) => [r.id as string, r]));
    for (const [i, id] of ids.entries()) {
      assert.deepEqual(
        byId.get(id),
        { id, status: "completed", attempts: 1, result: { i }, error: null, deleted: false },
        `row of ${id}`,
      );
    }

    await until("health to be healthy again", async () => {
      const again = await call<{ status: string }>(server, "system.health");
      return { done: again.status === "healthy", state: again.status };
    });
    assert.equal((await call<Task>(server, "task.get", { id: archivedId })).status, "completed");
  });
});

describe("no database for a shared REDIS_URL without DATABASE_URL", () => {
  let redis: TestRedis;

  before(async () => {
    redis = await startTestRedis();
  });

  after(async () => {
    await redis?.stop();
  });

  it("databaseChoice says none, with the reason", () => {
    const redisUrl = "redis://127.0.0.1:6390";
    assert.deepEqual(databaseChoice(loadConfig({ redisUrl }, {})), {
      kind: "none",
      reason:
        "shared REDIS_URL without DATABASE_URL (set DATABASE_URL, or --db pglite for this process alone)",
    });
    assert.equal(databaseChoice(loadConfig({ redisUrl, db: "pglite" }, {})).kind, "pglite");
    assert.equal(
      databaseChoice(loadConfig({ redisUrl, databaseUrl: "postgres://h/db" }, {})).kind,
      "postgres",
    );
    assert.equal(databaseChoice(loadConfig({}, {})).kind, "pglite");
    assert.deepEqual(databaseChoice(loadConfig({ db: "none" }, {})), { kind: "none", reason: "--no-db" });
  });

  it("the serve banner prints it on its database line", async () => {
    const env = { ...process.env };
    for (const name of ["DATABASE_URL", "DB_MODE", "REDIS_URL", "DATA_DIR", "PORT", "KEY_PREFIX"])
      delete env[name];
    const cli = runCli(
      [
        "serve",
        "--redis-url",
        redis.url,
        "--port",
        String(await freePort()),
        "--key-prefix",
        uniquePrefix("banner"),
      ],
      env,
    );
    try {
      await waitFor(
        () => cli.stdout().includes("Press Ctrl-C") || cli.child.exitCode !== null,
        "the serve banner",
      );
      const line = cli
        .stdout()
        .split("\n")
        .find((l) => /^\s+database\s/.test(l));
      assert.ok(line, `no database line in:\n${cli.stdout()}\n${cli.stderr()}`);
      assert.match(
        line,
        /^ {2}database {3}none: shared REDIS_URL without DATABASE_URL \(set DATABASE_URL, or --db pglite for this process alone\)$/,
      );
    } finally {
      cli.child.kill("SIGTERM");
    }
    assert.equal(await cli.exited, 0);
  });
});
