import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import type { Task } from "../../src/domain/tasks/model.js";
import { createKeys } from "../../src/storage/keys.js";
import { runCli, type SpawnedCli, waitFor } from "../helpers/cli.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";
import { rpc, startTestServer } from "../helpers/server.js";

/** `claudebench worker` processes against a server: crash recovery through leases, dead letters, retry. */

let redis: TestRedis;
before(async () => {
  redis = await startTestRedis();
});
after(async () => {
  await redis.stop();
});

async function call<T>(url: string, method: string, params: Record<string, unknown> = {}): Promise<T> {
  const { body } = await rpc(url, { jsonrpc: "2.0", id: 1, method, params });
  if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result as T;
}

const getTask = (url: string, id: string) => call<Task>(url, "task.get", { id });

function startWorker(url: string, id: string, command: string): SpawnedCli {
  return runCli(
    ["worker", "--url", url, "--id", id, "--exec", command, "--concurrency", "3"].concat([
      "--lease-ms",
      "1000",
      "--poll-ms",
      "100",
    ]),
  );
}

describe("claudebench worker", () => {
  it("a worker killed with kill -9 loses its tasks to another worker after the lease; attempts count; then dead letters; retry brings one back", async () => {
    const server = await startTestServer({
      redisUrl: redis.url,
      overrides: { maintenanceIntervalMs: 100, backoffBaseMs: 50, backoffMaxMs: 100 },
    });
    const workers: SpawnedCli[] = [];
    try {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        ids.push((await call<Task>(server.url, "task.create", { text: `job ${i}`, maxAttempts: 2 })).id);
      }
      const heldBy = async (worker: string, attempts: number) => {
        const tasks = await Promise.all(ids.map((id) => getTask(server.url, id)));
        return tasks.every(
          (t) => t.status === "in_progress" && t.assignedTo === worker && t.attempts === attempts,
        );
      };
      const waitUntil = async (check: () => Promise<boolean>, what: string) => {
        const deadline = Date.now() + 15_000;
        while (!(await check())) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };

      // Worker A takes all three, then dies without a word.
      const a = startWorker(server.url, "worker-a", "sleep 3");
      workers.push(a);
      await waitUntil(() => heldBy("worker-a", 1), "worker-a to hold the three tasks");
      a.child.kill("SIGKILL");
      await a.exited;

      // Worker B gets them once A's leases expire and are reaped: second attempt.
      const b = startWorker(server.url, "worker-b", "sleep 3");
      workers.push(b);
      await waitUntil(() => heldBy("worker-b", 2), "worker-b to take over the three tasks");
      b.child.kill("SIGKILL");
      await b.exited;

      // Their attempts are spent: after B's leases expire they sit in dead letters.
      await waitUntil(async () => {
        const tasks = await Promise.all(ids.map((id) => getTask(server.url, id)));
        return tasks.every((t) => t.status === "failed" && t.deadLettered === true);
      }, "the tasks to be dead-lettered");
      const stats = await call<{ deadLetters: number; activeLeases: number }>(server.url, "task.stats");
      assert.equal(stats.deadLetters, 3);
      assert.equal(stats.activeLeases, 0);
      const dead = await getTask(server.url, ids[0] as string);
      assert.equal(dead.attempts, 2);
      assert.equal(dead.error, "lease expired");

      // task.retry brings one back and a healthy worker completes it.
      await call(server.url, "task.retry", { id: ids[0] });
      const c = startWorker(server.url, "worker-c", "echo '{\"done\":true}'");
      workers.push(c);
      await waitFor(() => c.stdout().includes(`✓ ${ids[0]} completed`), `worker-c to complete ${ids[0]}`);
      const done = await getTask(server.url, ids[0] as string);
      assert.equal(done.status, "completed");
      assert.deepEqual(done.result, { done: true });
      assert.equal(done.assignedTo, "worker-c");
      assert.equal((await getTask(server.url, ids[1] as string)).status, "failed", "the others stay dead");
    } finally {
      for (const w of workers) w.child.kill("SIGKILL");
      await server.close();
    }
  });

  it("a busy worker claims its next task with each completion (one call per task), within its concurrency", async () => {
    const server = await startTestServer({ redisUrl: redis.url });
    const admin = new Redis(redis.url);
    try {
      const total = 12;
      for (let i = 0; i < total; i++) await call<Task>(server.url, "task.create", { text: `quick ${i}` });
      const w = startWorker(server.url, "worker-f", `cat >/dev/null; echo '{"done":true}'`);
      try {
        const deadline = Date.now() + 15_000;
        for (;;) {
          const stats = await call<{ byStatus: { completed: number } }>(server.url, "task.stats");
          if (stats.byStatus.completed === total) break;
          if (Date.now() > deadline)
            throw new Error(`only ${stats.byStatus.completed} of ${total} completed`);
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        w.child.kill("SIGTERM");
        await w.exited;
      }
      const stream = await admin.xrange(createKeys(server.config.keyPrefix).events(), "-", "+");
      const entries = stream.map(([, fields]) => {
        const payload = JSON.parse(fields[fields.indexOf("payload") + 1] as string);
        return { event: fields[fields.indexOf("event") + 1], id: payload.task?.id, worker: payload.workerId };
      });
      let running = 0;
      let claimedWithCompletion = 0;
      const claims = new Map<string, number>();
      entries.forEach((e, i) => {
        if (e.event === "task.claimed") {
          running++;
          claims.set(e.id, (claims.get(e.id) ?? 0) + 1);
          const before = entries[i - 1];
          // one script appends the completion and the claim that came with it, next to each other
          if (before?.event === "task.completed" && before.worker === e.worker) claimedWithCompletion++;
        }
        if (e.event === "task.completed") running--;
        assert.ok(running <= 3, `more than the concurrency (3) held at once at entry ${i}`);
      });
      assert.equal(claims.size, total);
      for (const [id, n] of claims) assert.equal(n, 1, `${id} claimed ${n} times`);
      assert.ok(
        claimedWithCompletion >= total - 3,
        `only ${claimedWithCompletion} claims came with a completion`,
      );
      const done = await getTask(server.url, [...claims.keys()][0] as string);
      assert.deepEqual(done.result, { done: true });
    } finally {
      admin.disconnect();
      await server.close();
    }
  });

  it("SIGTERM releases what the worker holds, at once, without counting the attempt", async () => {
    const server = await startTestServer({ redisUrl: redis.url });
    try {
      const created = await call<Task>(server.url, "task.create", { text: "long job" });
      const w = startWorker(server.url, "worker-d", "sleep 30");
      await waitFor(() => w.stdout().includes(`▶ ${created.id}`), "the worker to start the task");
      w.child.kill("SIGTERM");
      assert.equal(await w.exited, 0);
      assert.match(w.stdout(), new RegExp(`↺ ${created.id} released`));
      const task = await getTask(server.url, created.id);
      assert.equal(task.status, "pending");
      assert.equal(task.attempts, 0);
      assert.equal(task.assignedTo, undefined);
    } finally {
      await server.close();
    }
  });

  it("fails a task whose command exits non-zero, with the end of stderr as the error", async () => {
    const server = await startTestServer({ redisUrl: redis.url });
    try {
      const created = await call<Task>(server.url, "task.create", { text: "bad", maxAttempts: 1 });
      const w = startWorker(server.url, "worker-e", "echo 'it broke' >&2; exit 4");
      try {
        await waitFor(() => w.stdout().includes(`✗ ${created.id} failed`), "the failure to be reported");
      } finally {
        w.child.kill("SIGTERM");
        await w.exited;
      }
      const task = await getTask(server.url, created.id);
      assert.equal(task.status, "failed");
      assert.equal(task.error, "it broke");
      assert.equal(task.deadLettered, true);
    } finally {
      await server.close();
    }
  });
});
