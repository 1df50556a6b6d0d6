import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import type { Task } from "../../src/contract/tasks.js";
import { createLogger } from "../../src/core/logger.js";
import { parseEventEntry } from "../../src/domain/events/event-log.js";
import type { TaskDatabase } from "../../src/domain/history/task-database.js";
import { lockDataDir } from "../../src/storage/data-dir-lock.js";
import { type EmbeddedPglite, startEmbeddedPglite } from "../../src/storage/db/embedded-pglite.js";
import { isAlive } from "../helpers/cli.js";
import { startTestRedis, type TestRedis, uniquePrefix } from "../helpers/redis.js";
import { rpc, startTestServer } from "../helpers/server.js";

/**
 * The embedded history store: PGlite in a child process the server owns, reached over the
 * PostgreSQL wire protocol (src/storage/db/embedded-pglite.ts, pglite-child.ts, pglite-wire.ts).
 * The server never waits for it, history written while it is away catches up, a store killed
 * -9 is started again, and only the password holder gets in, connections taking turns between
 * transactions.
 */

type Server = Awaited<ReturnType<typeof startTestServer>>;

const log = createLogger(process.env.TEST_LOG_LEVEL ?? "silent");
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "cb-test-store-"));
  dirs.push(dir);
  return dir;
};
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Polls `check` every 50 ms until it returns a value other than undefined; fails after `timeoutMs`. */
async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 120_000,
) {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline)
      assert.fail(`timed out waiting for ${what}${last ? ` (last error: ${last})` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const upAgain = (store: EmbeddedPglite) =>
  until("the store to serve", () => (store.state() === "up" ? true : undefined));

async function call<T>(server: Server, method: string, params: Record<string, unknown>): Promise<T> {
  const res = await rpc(server.url, { jsonrpc: "2.0", id: 1, method, params });
  assert.ok(res.body && "result" in res.body, `${method}: ${JSON.stringify(res.body)}`);
  return res.body.result as T;
}

/** create → claim → complete in a channel of its own; resolves with the task id once acknowledged. */
async function cycle(server: Server, label: string): Promise<string> {
  const task = await call<Task>(server, "task.create", { text: label, channel: label });
  const claimed = await call<{ token: number }>(server, "task.claim", {
    workerId: "w-store",
    channel: label,
  });
  await call(server, "task.complete", { id: task.id, token: claimed.token, result: { label } });
  return task.id;
}

/** The task events of the server's stream, per task id. */
async function streamEvents(server: Server): Promise<Map<string, string[]>> {
  const { redis, keys } = server;
  const out = new Map<string, string[]>();
  for (const entry of (await redis.xrange(keys.events(), "-", "+")) as [string, string[]][]) {
    const e = parseEventEntry(entry);
    const id = (e?.payload.task as { id?: string } | undefined)?.id;
    if (!e?.event.startsWith("task.") || !id) continue;
    out.set(id, [...(out.get(id) ?? []), e.id]);
  }
  return out;
}

/** Waits until the database holds, for each of `ids`, exactly the events the stream has. */
async function untilHistoryComplete(server: Server, ids: readonly string[]): Promise<void> {
  const database = server.dispatcher.services.database as TaskDatabase;
  const stream = await streamEvents(server);
  await until(`the history of ${ids.length} tasks`, async () => {
    for (const id of ids) {
      const rows = await database.history(id);
      const want = stream.get(id) ?? [];
      assert.ok(want.length === 3, `the stream holds 3 events of ${id}`);
      if (rows.map((r) => `${r.eventMs}-${r.eventSeq}`).join() !== want.join()) return undefined;
    }
    return true;
  });
}

describe("the embedded store's wire protocol", () => {
  let store: EmbeddedPglite;
  let dir: string;

  before(async () => {
    dir = join(tempDir(), "pglite");
    store = await startEmbeddedPglite({ dir, log });
  });
  after(async () => {
    await store?.stop();
  });

  const client = (password = store.connection.password) => new pg.Client({ ...store.connection, password });

  it("creates the cluster on the first start, in a private directory, and serves", async () => {
    await upAgain(store);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(store.passwordFile).mode & 0o777, 0o600);
    assert.match(readFileSync(join(dir, "pgdata", "PG_VERSION"), "utf8"), /^\d+/);
    assert.equal(readFileSync(join(dir, "port"), "utf8").trim(), String(store.port));
    const c = client();
    await c.connect();
    assert.deepEqual((await c.query("select 1 + 1 as two")).rows, [{ two: 2 }]);
    await c.end();
  });

  it("refuses a client without the right password", async () => {
    await upAgain(store);
    const stranger = client("not-the-password");
    await assert.rejects(stranger.connect(), (err: Error & { code?: string }) => {
      assert.equal(err.code, "28P01", err.message);
      return true;
    });
  });

  it("answers an SSL request with 'no', and a stranger who never authenticates holds nobody up", async () => {
    await upAgain(store);
    const stranger = connect(store.port, "127.0.0.1");
    const refused = await new Promise<string>((resolve, reject) => {
      stranger.once("error", reject);
      stranger.once("data", (reply: Buffer) => resolve(reply.toString()));
      const sslRequest = Buffer.alloc(8);
      sslRequest.writeInt32BE(8, 0);
      sslRequest.writeInt32BE(80877103, 4);
      stranger.write(sslRequest);
    });
    assert.equal(refused, "N");
    try {
      // the stranger stays connected, silent: the password holder is served all the same
      const c = client();
      await c.connect();
      assert.deepEqual((await c.query("select 'served' as s")).rows, [{ s: "served" }]);
      await c.end();
    } finally {
      stranger.destroy();
    }
  });

  it("lets connections take turns between transactions, and rolls back what a lost one left open", async () => {
    await upAgain(store);
    const first = client();
    await first.connect();
    await first.query("create table if not exists probe (n int)");
    await first.query("begin");
    await first.query("insert into probe values (1)");

    const second = client();
    let secondIn = false;
    const secondConnected = second.connect().then(() => {
      secondIn = true;
    });
    // the first still has the backend, in its transaction
    assert.deepEqual((await first.query("select count(*)::int as n from probe")).rows, [{ n: 1 }]);
    assert.equal(secondIn, false, "the second waits while the first holds the backend");

    // the first goes away without COMMIT
    first.on("error", () => undefined);
    (first as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    await secondConnected;
    assert.deepEqual((await second.query("select count(*)::int as n from probe")).rows, [{ n: 0 }]);

    // Outside transactions, connections held open together are served in turn (a pool's idle
    // connection does not keep the next one waiting).
    const third = client();
    await third.connect();
    for (let i = 0; i < 3; i++) {
      await second.query("insert into probe values ($1)", [i]);
      assert.deepEqual((await third.query("select count(*)::int as n from probe")).rows, [{ n: i + 1 }]);
    }
    await Promise.all([second.end(), third.end()]);
  });
});

describe("a server with the embedded store", () => {
  let redis: TestRedis;
  const servers: Server[] = [];

  before(async () => {
    redis = await startTestRedis();
  });
  after(async () => {
    for (const server of servers) await server.close();
    await redis?.stop();
  });

  const startServer = async (dataDir: string) => {
    const server = await startTestServer({
      redisUrl: redis.url,
      keyPrefix: uniquePrefix("store"),
      overrides: { dbMode: "pglite", dataDir },
    });
    servers.push(server);
    return { server, store: server.historyStore as EmbeddedPglite };
  };

  it("serves without waiting for the store; what it acknowledged meanwhile reaches the history", async () => {
    const dataDir = tempDir();
    // Another live owner of the store's directory keeps the store from starting.
    mkdirSync(join(dataDir, "pglite"), { recursive: true });
    const blocker = lockDataDir(join(dataDir, "pglite"));
    const { server, store } = await startServer(dataDir);
    const ids: string[] = [];
    try {
      for (let i = 0; i < 5; i++) ids.push(await cycle(server, `while-away-${i}`));
      const health = await call<{ status: string; checks: { database: { ok: boolean } } }>(
        server,
        "system.health",
        {},
      );
      assert.equal(health.checks.database.ok, false, "the store cannot have started");
      assert.notEqual(store.state(), "up");
    } finally {
      blocker.release();
    }
    await upAgain(store);
    await untilHistoryComplete(server, ids);
    const health = await call<{ status: string }>(server, "system.health", {});
    assert.equal(health.status, "healthy");
  });

  it("starts a store killed -9 again; the history catches up, nothing acknowledged is lost", async () => {
    const { server, store } = await startServer(tempDir());
    await upAgain(store);
    const ids = [await cycle(server, "before-kill")];
    await untilHistoryComplete(server, ids);

    const killed = store.pid() as number;
    process.kill(killed, "SIGKILL");
    await until("the killed store to be gone", () => (isAlive(killed) ? undefined : true));
    for (let i = 0; i < 5; i++) ids.push(await cycle(server, `after-kill-${i}`));

    await upAgain(store);
    assert.notEqual(store.pid(), killed, "a new child serves");
    await untilHistoryComplete(server, ids);
  });

  it("moves PGlite's files of the old layout (the directory itself) into pgdata/", async () => {
    const dataDir = tempDir();
    const dir = join(dataDir, "pglite");
    mkdirSync(join(dir, "base"), { recursive: true });
    writeFileSync(join(dir, "PG_VERSION"), "17\n");
    writeFileSync(join(dir, "base", "marker"), "kept");
    const store = await startEmbeddedPglite({ dir, log });
    try {
      assert.equal(readFileSync(join(dir, "pgdata", "base", "marker"), "utf8"), "kept");
      assert.equal(readFileSync(join(dir, "pgdata", "PG_VERSION"), "utf8"), "17\n");
    } finally {
      await store.stop();
    }
  });
});
