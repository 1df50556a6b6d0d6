import assert from "node:assert/strict";
import { Agent, request } from "node:http";
import { after, describe, it } from "node:test";
import type { Redis } from "ioredis";
import type { JsonRpcFailure, JsonRpcResponse, JsonRpcSuccess } from "../../src/contract/jsonrpc.js";
import type { Task } from "../../src/contract/tasks.js";
import { createKeys, type Keys } from "../../src/storage/keys.js";
import { until } from "../helpers/cluster.js";
import { type TestRedis, uniquePrefix, useTestRedis } from "../helpers/redis.js";
import { startTestServer } from "../helpers/server.js";

/**
 * The queue under concurrent HTTP JSON-RPC load: concurrent creates get distinct ids, an
 * idempotency key yields one task however many race on it, and 20 workers draining 2,000 tasks
 * claim each exactly once, in priority-then-FIFO order.
 */

type Server = Awaited<ReturnType<typeof startTestServer>>;

interface ClaimResult {
  claimed: boolean;
  taskId?: string;
  token?: number;
  task?: Task;
}

let redis: TestRedis;
let admin: Redis;
const servers: Server[] = [];
// Keep-alive sockets shared by all calls: many calls in flight at once without a socket each.
const agent = new Agent({ keepAlive: true, maxSockets: 128 });
let requestId = 0;

// before Redis stops: the servers are closed first
after(async () => {
  agent.destroy();
  await Promise.all(servers.map((s) => s.close()));
});
useTestRedis((started) => {
  redis = started.server;
  admin = started.redis;
});

async function open(): Promise<{ url: string; keys: Keys }> {
  const keyPrefix = uniquePrefix("cc");
  const server = await startTestServer({ redisUrl: redis.url, keyPrefix });
  servers.push(server);
  return { url: server.url, keys: createKeys(keyPrefix) };
}

/** POST /rpc with a request or a batch; resolves with the parsed answer. */
function post(url: string, body: unknown): Promise<unknown> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/rpc`,
      {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(text) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          try {
            assert.equal(res.statusCode, 200);
            resolve(JSON.parse(Buffer.concat(chunks).toString()));
          } catch (err) {
            reject(err);
          }
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(text);
  });
}

async function ok<T>(url: string, method: string, params: unknown): Promise<T> {
  const body = (await post(url, { jsonrpc: "2.0", id: ++requestId, method, params })) as JsonRpcResponse;
  assert.ok(!("error" in body), `${method} failed: ${JSON.stringify((body as JsonRpcFailure).error)}`);
  return (body as JsonRpcSuccess).result as T;
}

/** The task events (task.*) on the stream, in stream order; other domains' events are left out. */
async function streamEvents(keys: Keys) {
  const entries = await admin.xrange(keys.events(), "-", "+");
  return entries.flatMap(([id, fields]) => {
    const f: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i] as string] = fields[i + 1] as string;
    const event = f.event as string;
    if (!event.startsWith("task.")) return [];
    const payload = JSON.parse(f.payload as string) as {
      task: { id: string } & Record<string, string>;
      workerId?: string;
    };
    return [{ id, event, task: payload.task, workerId: payload.workerId }];
  });
}

describe("concurrent task.create", () => {
  it("1,000 concurrent creates get 1,000 distinct ids", async () => {
    const { url, keys } = await open();
    const created = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        ok<Task>(url, "task.create", { text: `task ${i}`, priority: i % 101 }),
      ),
    );
    const ids = new Set(created.map((t) => t.id));
    assert.equal(ids.size, 1000);
    for (const t of created) assert.match(t.id, /^t-\d+$/);
    const seqs = [...ids].map((id) => Number(id.slice(2))).sort((a, b) => a - b);
    assert.deepEqual(
      seqs,
      Array.from({ length: 1000 }, (_, i) => i + 1),
    );
    // each answer is the task its own call asked for
    for (const [i, t] of created.entries()) {
      assert.equal(t.text, `task ${i}`);
      assert.equal(t.priority, i % 101);
    }
    assert.equal(await admin.zcard(keys.coordination.all), 1000);
    assert.equal(await admin.zcard(keys.coordination.pending), 1000);
    assert.equal(await admin.get(keys.coordination.seq), "1000");
    const events = await streamEvents(keys);
    assert.equal(events.length, 1000);
    assert.equal(new Set(events.map((e) => e.task.id)).size, 1000);
  });

  it("50 concurrent creates with one idempotency key make one task; every answer carries its id", async () => {
    const { url, keys } = await open();
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        ok<Task & { duplicate?: boolean }>(url, "task.create", {
          text: `attempt ${i}`,
          idempotencyKey: "once",
        }),
      ),
    );
    const ids = new Set(answers.map((a) => a.id));
    assert.equal(ids.size, 1);
    const [id] = ids;
    assert.equal(answers.filter((a) => a.duplicate !== true).length, 1);
    const texts = new Set(answers.map((a) => a.text));
    assert.equal(texts.size, 1, "every answer shows the one task that was created");
    assert.equal(await admin.zcard(keys.coordination.all), 1);
    assert.equal(await admin.get(keys.coordination.idempotency("once")), id);
    const events = await streamEvents(keys);
    assert.deepEqual(
      events.map((e) => [e.event, e.task.id]),
      [["task.created", id]],
    );
  });
});

describe("20 concurrent workers draining 2,000 tasks", () => {
  it("claim each task exactly once, complete it once, in priority-then-FIFO order", async () => {
    const { url, keys } = await open();
    const TASKS = 2000;
    const WORKERS = 20;
    const priorityOf = (i: number) => (i % 7) * 10 + (i % 3);

    // all tasks exist before claiming starts (created in batches of 100)
    const priorityById = new Map<string, number>();
    for (let start = 0; start < TASKS; start += 100) {
      const batch = Array.from({ length: 100 }, (_, k) => ({
        jsonrpc: "2.0",
        id: start + k,
        method: "task.create",
        params: { text: `job ${start + k}`, priority: priorityOf(start + k) },
      }));
      const answers = (await post(url, batch)) as JsonRpcSuccess[];
      assert.equal(answers.length, 100);
      for (const a of answers) {
        assert.ok(!("error" in a), JSON.stringify(a));
        const t = a.result as Task;
        assert.equal(t.priority, priorityOf(Number(a.id)));
        priorityById.set(t.id, t.priority);
      }
    }
    assert.equal(priorityById.size, TASKS);

    const claimedBy = new Map<string, string>();
    let claims = 0;
    let completions = 0;
    const worker = async (workerId: string) => {
      for (;;) {
        const c = await ok<ClaimResult>(url, "task.claim", { workerId });
        if (!c.claimed) return;
        claims++;
        const id = c.taskId as string;
        assert.ok(!claimedBy.has(id), `${id} claimed by ${claimedBy.get(id)} and again by ${workerId}`);
        claimedBy.set(id, workerId);
        const done = await ok<{ id: string; status: string }>(url, "task.complete", {
          id,
          workerId,
          token: c.token,
          result: { by: workerId },
        });
        assert.deepEqual([done.id, done.status], [id, "completed"]);
        completions++;
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, (_, k) => worker(`w-${k}`)));

    assert.equal(claims, TASKS);
    assert.equal(completions, TASKS);
    assert.equal(claimedBy.size, TASKS);
    assert.ok(new Set(claimedBy.values()).size > 1, "the work was shared between workers");

    // the event stream agrees: one claimed and one completed event per task, by the same worker
    const events = await streamEvents(keys);
    const claimed = events.filter((e) => e.event === "task.claimed");
    const completed = events.filter((e) => e.event === "task.completed");
    assert.equal(claimed.length, TASKS);
    assert.equal(completed.length, TASKS);
    assert.equal(new Set(claimed.map((e) => e.task.id)).size, TASKS);
    assert.equal(new Set(completed.map((e) => e.task.id)).size, TASKS);
    for (const e of claimed) assert.equal(e.workerId, claimedBy.get(e.task.id));
    for (const e of completed) assert.equal(e.workerId, claimedBy.get(e.task.id));
    const tokens = claimed.map((e) => Number(e.task.leaseToken));
    for (let i = 1; i < tokens.length; i++) assert.ok((tokens[i] as number) > (tokens[i - 1] as number));
    assert.equal(
      events.filter((e) => !["task.created", "task.claimed", "task.completed"].includes(e.event)).length,
      0,
    );

    // stream ids are a total order of the claims: best priority first, FIFO (seq) within one
    const order = claimed.map((e) => ({ priority: Number(e.task.priority), seq: Number(e.task.seq) }));
    for (let i = 1; i < order.length; i++) {
      const prev = order[i - 1] as { priority: number; seq: number };
      const cur = order[i] as { priority: number; seq: number };
      assert.ok(
        cur.priority < prev.priority || (cur.priority === prev.priority && cur.seq > prev.seq),
        `claim ${i}: (p${cur.priority}, seq ${cur.seq}) after (p${prev.priority}, seq ${prev.seq})`,
      );
    }
    const expected = [...priorityById.entries()]
      .sort(([a, pa], [b, pb]) => pb - pa || Number(a.slice(2)) - Number(b.slice(2)))
      .map(([id]) => id);
    assert.deepEqual(
      claimed.map((e) => e.task.id),
      expected,
    );

    const q = keys.coordination;
    assert.deepEqual(
      await Promise.all(
        [q.pending, q.delayed, q.leases, q.dead, q.status("completed")].map((k) => admin.zcard(k)),
      ),
      [0, 0, 0, 0, TASKS],
    );
    // workers leave the workers set at the server's next maintenance pass (reapLeases), not at each completion
    await until(
      async () => (await admin.smembers(q.workers)).length === 0,
      "the idle workers to be pruned",
      10_000,
    );
  });
});
