import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import type { Task } from "../../src/contract/tasks.js";
import { type ErrorCode, JSONRPC_CODES } from "../../src/core/errors.js";
import { FREE_FORM_MAX_BYTES } from "../../src/core/json-bounds.js";
import type { Instance } from "../../src/domain/coordination/instances.js";
import { createKeys } from "../../src/storage/keys.js";
import { freePort, runCli, type SpawnedCli, waitFor } from "../helpers/cli.js";
import {
  CLUSTER_ENV,
  kill9,
  killAllServers,
  type Member,
  startGroup,
  startMember,
  until,
} from "../helpers/cluster.js";
import { parsePrometheus, sampleValue } from "../helpers/prometheus.js";
import { startTestRedis, type TestRedis, uniquePrefix } from "../helpers/redis.js";
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

/**
 * Bound of the waits that include starting processes: what they wait for takes seconds, but a
 * busy 2-core machine may be slow to start node processes. A lease a test does not mean to
 * expire is longer than any of these waits, so that a slow machine cannot make a task run twice.
 */
const SLOW = 120_000;

/** `leaseMs`: short only where a test waits for leases to expire. */
function startWorker(url: string, id: string, command: string, leaseMs = 2 * SLOW): SpawnedCli {
  return runCli(
    ["worker", "--url", url, "--id", id, "--exec", command, "--concurrency", "3"].concat([
      "--lease-ms",
      String(leaseMs),
      "--poll-ms",
      "100",
    ]),
  );
}

/** What a faulty proxy does with one call: pass it on, carry it out but lose the answer, or answer an error itself. */
type Fault = "pass" | "lose the answer" | ErrorCode;

/**
 * A proxy between worker and server that passes every call on, except those `fault` picks out.
 * An error is answered as a server whose handler failed would, without passing the call on.
 * A call is held until `fault` settles.
 */
async function faultyProxy(
  target: string,
  fault: (call: { method: string; params: Record<string, unknown> }) => Fault | Promise<Fault>,
): Promise<{ url: string; close(): void }> {
  const proxy: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => {
      body += d;
    });
    req.on("end", async () => {
      const call = JSON.parse(body);
      const what = await fault(call);
      if (what !== "pass" && what !== "lose the answer") {
        const error = { code: JSONRPC_CODES[what], message: `${what} from the proxy`, data: { code: what } };
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ jsonrpc: "2.0", id: call.id, error }));
        return;
      }
      try {
        const reply = await fetch(`${target}/rpc`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        });
        const text = await reply.text();
        if (what === "lose the answer") req.socket.destroy();
        else res.writeHead(reply.status, { "content-type": "application/json" }).end(text);
      } catch {
        req.socket.destroy(); // the server is gone: so is the answer
      }
    });
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    close: () => {
      proxy.close();
      proxy.closeAllConnections();
    },
  };
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
        const deadline = Date.now() + SLOW;
        while (!(await check())) {
          if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };

      // Worker A takes all three, then dies without a word. (Its commands outlast the check
      // that it holds them; its 1 s leases expire soon after it is gone.)
      const a = startWorker(server.url, "worker-a", "sleep 10", 1000);
      workers.push(a);
      await waitUntil(() => heldBy("worker-a", 1), "worker-a to hold the three tasks");
      a.child.kill("SIGKILL");
      await a.exited;

      // Worker B gets them once A's leases expire and are reaped: second attempt.
      const b = startWorker(server.url, "worker-b", "sleep 10", 1000);
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
      await waitFor(
        () => c.stdout().includes(`✓ ${ids[0]} completed`),
        `worker-c to complete ${ids[0]}`,
        SLOW,
      );
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
        const deadline = Date.now() + SLOW;
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
      await waitFor(() => w.stdout().includes(`▶ ${created.id}`), "the worker to start the task", SLOW);
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

  it("SIGTERM while a completion is on its way: the task it claims with it is released before the worker exits", async () => {
    const server = await startTestServer({ redisUrl: redis.url });
    // holds the first completion (sent with claimNext) until the worker is stopping
    let arrived = false;
    let pass: (fault: Fault) => void = () => undefined;
    const passed = new Promise<Fault>((r) => {
      pass = r;
    });
    const proxy = await faultyProxy(server.url, ({ method }) => {
      if (method !== "task.complete") return "pass";
      arrived = true;
      return passed;
    });
    const first = await call<Task>(server.url, "task.create", { text: "first", priority: 90 });
    const next = await call<Task>(server.url, "task.create", { text: "claimed with its completion" });
    const w = runCli(
      ["worker", "--url", proxy.url, "--id", "worker-s", "--exec", "true"].concat([
        "--lease-ms",
        String(2 * SLOW),
        "--poll-ms",
        "100",
      ]),
    );
    try {
      await waitFor(() => arrived, "the first completion to arrive", SLOW);
      w.child.kill("SIGTERM");
      await waitFor(() => w.stdout().includes("SIGTERM: stopping"), "the worker to stop", SLOW);
      pass("pass");
      assert.equal(await w.exited, 0);
      assert.equal((await getTask(server.url, first.id)).status, "completed");
      const released = await getTask(server.url, next.id);
      assert.equal(released.status, "pending", w.stdout());
      assert.equal(released.attempts, 0);
    } finally {
      pass("pass");
      w.child.kill("SIGKILL");
      await w.exited;
      proxy.close();
      await server.close();
    }
  });

  it("fails a task whose command exits non-zero, with the end of stderr as the error", async () => {
    const server = await startTestServer({ redisUrl: redis.url });
    try {
      const created = await call<Task>(server.url, "task.create", { text: "bad", maxAttempts: 1 });
      const w = startWorker(server.url, "worker-e", "echo 'it broke' >&2; exit 4");
      try {
        await waitFor(
          () => w.stdout().includes(`✗ ${created.id} failed`),
          "the failure to be reported",
          SLOW,
        );
      } finally {
        w.child.kill("SIGTERM");
        await w.exited;
      }
      const task = await getTask(server.url, created.id);
      assert.equal(task.status, "failed");
      assert.equal(task.error, "it broke");
      assert.equal(task.deadLettered, true);
      assert.match(
        w.stdout(),
        new RegExp(`✗ ${created.id} failed in [\\d.]+s \\(exit 4\\); dead-lettered\n    \\| it broke\n`),
      );
    } finally {
      await server.close();
    }
  });
});

const instanceOf = async (url: string, id: string) =>
  (await call<{ instances: Instance[] }>(url, "system.instances")).instances.find((i) => i.id === id);

/** Resolves with the exit code, or fails after SLOW: a worker expected to exit by itself. */
const exitOf = (w: SpawnedCli) =>
  Promise.race([
    w.exited,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`the worker did not exit:\n${w.stdout()}`)), SLOW).unref(),
    ),
  ]);

describe("claudebench worker as an instance of the cluster", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "cb-worker-instance-"));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("registers (role worker, maxTasks = concurrency, what it runs, where) and shows what it holds; says 'queue empty' once however often it polls; SIGTERM releases, unregisters and sums up", async () => {
    // heartbeats every 2 s, so that the status they carry is seen soon
    const server = await startTestServer({ redisUrl: redis.url, overrides: { heartbeatTimeoutMs: 6000 } });
    const claims = async () =>
      sampleValue(
        parsePrometheus(await (await fetch(`${server.url}/metrics`)).text()),
        "claudebench_calls_total",
        { method: "task.claim" },
      );
    try {
      const ids = [
        (await call<Task>(server.url, "task.create", { text: "one" })).id,
        (await call<Task>(server.url, "task.create", { text: "two" })).id,
      ].sort();
      const w = runCli(
        ["worker", "--url", server.url, "--id", "worker-i", "--exec", "exec sleep 300"].concat(
          ["--concurrency", "3", "--capabilities", "ts, gpu", "--lease-ms", String(2 * SLOW)],
          ["--poll-ms", "100"],
        ),
      );
      try {
        const seen = await until(
          async () => {
            const i = await instanceOf(server.url, "worker-i");
            return i?.activeTasks === 2 && i.statusText === "running 2 of 3" && i;
          },
          "the worker's instance to hold its two tasks and say so in a heartbeat",
          SLOW,
        );
        assert.equal(seen.status, "active");
        assert.deepEqual(seen.roles, ["worker"]);
        assert.deepEqual(seen.capabilities, ["ts", "gpu"]);
        assert.equal(seen.maxTasks, 3);
        assert.deepEqual(seen.metadata, {
          kind: "worker",
          command: "exec sleep 300",
          host: hostname(),
          pid: w.child.pid,
          concurrency: 3,
        });
        assert.deepEqual(seen.heldTaskIds, ids);
        assert.deepEqual(seen.load, { running: 2, done: 0, failed: 0 });
        for (const task of await Promise.all(ids.map((id) => getTask(server.url, id))))
          assert.equal(task.assignedTo, "worker-i", "a task's holder is the instance");

        // it polls every 100 ms with a free slot and finds nothing: said once
        const before = await claims();
        await until(async () => (await claims()) >= before + 5, "five more claims", SLOW);
        assert.equal(w.stdout().match(/queue empty; waiting/g)?.length, 1, w.stdout());
        assert.match(w.stdout(), /queue empty; waiting \(2 running\)/);

        w.child.kill("SIGTERM");
        assert.equal(await w.exited, 0);
      } finally {
        w.child.kill("SIGKILL");
      }
      for (const id of ids) assert.match(w.stdout(), new RegExp(`↺ ${id} released`));
      assert.match(w.stdout(), /unregistered worker-i\n/);
      assert.match(w.stdout(), /summary: done 0, failed 0, released 2; ran \S.*\n$/);
      assert.equal((await instanceOf(server.url, "worker-i"))?.status, "unregistered");
      for (const task of await Promise.all(ids.map((id) => getTask(server.url, id)))) {
        assert.equal(task.status, "pending");
        assert.equal(task.attempts, 0);
      }
    } finally {
      await server.close();
    }
  });

  it("a live worker keeps its tasks through many heartbeat timeouts, even when check_health asks with a shorter one; killed with -9, its tasks go back at once, long before their leases end", async () => {
    const timeoutMs = 3000;
    const server = await startTestServer({
      redisUrl: redis.url,
      overrides: { heartbeatTimeoutMs: timeoutMs, maintenanceIntervalMs: 100 },
    });
    const release = join(dir, "release-k");
    try {
      const ids = [
        (await call<Task>(server.url, "task.create", { text: "one" })).id,
        (await call<Task>(server.url, "task.create", { text: "two" })).id,
      ];
      // runs until the test ends it (a worker killed with -9 leaves its commands behind)
      const command = `while [ ! -e ${release} ]; do sleep 0.2; done`;
      const w = runCli(
        ["worker", "--url", server.url, "--id", "worker-k", "--exec", command].concat([
          "--concurrency",
          "2",
          "--lease-ms",
          String(2 * SLOW),
          "--poll-ms",
          "100",
        ]),
      );
      try {
        await until(
          async () => (await instanceOf(server.url, "worker-k"))?.activeTasks === 2,
          "the worker to hold both tasks",
          SLOW,
        );
        // three timeouts' worth of heartbeats, each poll asking the leader to fail what was
        // silent for 100 ms: a worker that heartbeats as told is never failed
        await until(
          async () => {
            const check = await call<{ failed: string[] }>(server.url, "system.check_health", {
              timeout: 100,
            });
            assert.deepEqual(check.failed, [], "a live worker declared failed");
            const i = await instanceOf(server.url, "worker-k");
            return i && Date.parse(i.lastSeen) - Date.parse(i.registeredAt) >= 3 * timeoutMs;
          },
          "the worker to heartbeat through three timeouts",
          SLOW,
        );
        assert.equal((await instanceOf(server.url, "worker-k"))?.status, "active");
        for (const task of await Promise.all(ids.map((id) => getTask(server.url, id)))) {
          assert.equal(task.status, "in_progress");
          assert.equal(task.assignedTo, "worker-k");
          assert.equal(task.attempts, 1);
        }

        w.child.kill("SIGKILL");
        await w.exited;
        // their leases (240 s) outlast this wait: only the instance's failure explains it
        await until(
          async () =>
            (await Promise.all(ids.map((id) => getTask(server.url, id)))).every(
              (t) => t.status === "pending" && t.error === "instance failed",
            ),
          "the worker's tasks to go back to the queue",
          SLOW,
        );
        assert.equal((await instanceOf(server.url, "worker-k"))?.status, "failed");
        for (const task of await Promise.all(ids.map((id) => getTask(server.url, id))))
          assert.equal(task.attempts, 1, "the attempt stays counted");
      } finally {
        w.child.kill("SIGKILL");
        writeFileSync(release, "");
      }
    } finally {
      await server.close();
    }
  });

  it("registers again when the server no longer knows it", async () => {
    const server = await startTestServer({ redisUrl: redis.url, overrides: { heartbeatTimeoutMs: 3000 } });
    const w = startWorker(server.url, "worker-again", "true");
    try {
      await until(
        async () => (await instanceOf(server.url, "worker-again"))?.status === "active",
        "the worker to register",
        SLOW,
      );
      await call(server.url, "system.unregister", { instanceId: "worker-again" });
      await waitFor(() => w.stdout().includes("registered again"), "the worker to register again", SLOW);
      assert.equal((await instanceOf(server.url, "worker-again"))?.status, "active");
    } finally {
      w.child.kill("SIGKILL");
      await w.exited;
      await server.close();
    }
  });
});

describe("claudebench worker in daily use", () => {
  it("a worker whose server is not up yet says so once, backs off, and starts when the server does", async () => {
    // what a proxy answers while the server behind it is down (503), counting the worker's attempts
    let attempts = 0;
    const standIn = createServer((_req, res) => {
      attempts++;
      res.writeHead(503, { "content-type": "text/plain" }).end("no server behind this proxy");
    });
    await new Promise<void>((r) => standIn.listen(0, "127.0.0.1", r));
    const port = (standIn.address() as AddressInfo).port;
    const w = startWorker(`http://127.0.0.1:${port}`, "worker-early", `echo '{"ok":true}'`);
    let server: Awaited<ReturnType<typeof startTestServer>> | undefined;
    try {
      await until(async () => attempts >= 3, "three attempts to reach the server", SLOW);
      assert.equal(w.stdout().match(/server (still )?unavailable/g)?.length, 1, w.stdout());
      assert.match(
        w.stdout(),
        /! server unavailable \(UNAVAILABLE: unexpected HTTP 503 .*\); trying again with back-off, 1 s doubling up to 30 s\n/,
      );
      standIn.close();
      standIn.closeAllConnections();
      server = await startTestServer({ redisUrl: redis.url, overrides: { port } });
      const created = await call<Task>(server.url, "task.create", { text: "at last" });
      await until(
        async () => (await getTask(server?.url as string, created.id)).status === "completed",
        "the worker to complete the task",
        SLOW,
      );
      assert.match(w.stdout(), /server answering again after \S+\n.*registered as instance worker-early/);
      // (a refused connection between the stand-in and the server, if any, adds a "still unavailable")
      assert.equal(w.stdout().match(/! server unavailable/g)?.length, 1, w.stdout());
    } finally {
      w.child.kill("SIGKILL");
      await w.exited;
      standIn.close();
      await server?.close();
    }
  });

  it("--drain runs until nothing is left (waiting for its own retries), shows each failure's stderr and fate, and sums up", async () => {
    const server = await startTestServer({
      redisUrl: redis.url,
      overrides: { maintenanceIntervalMs: 100, backoffBaseMs: 50, backoffMaxMs: 100 },
    });
    try {
      const ok = [
        (await call<Task>(server.url, "task.create", { text: "fine", priority: 90 })).id,
        (await call<Task>(server.url, "task.create", { text: "fine too", priority: 80 })).id,
      ];
      const bad = (await call<Task>(server.url, "task.create", { text: "bad", maxAttempts: 2 })).id;
      // "bad" writes eight lines to stderr and exits 3; the others print a result
      const command = `input=$(cat); case "$input" in *'"text":"bad"'*) for i in 1 2 3 4 5 6 7; do echo "trace line $i" >&2; done; echo "the reason it broke" >&2; exit 3;; esac; echo '{"ok":true}'`;
      const w = runCli(
        ["worker", "--url", server.url, "--id", "worker-drain", "--exec", command, "--drain"].concat([
          "--poll-ms",
          "100",
        ]),
      );
      assert.equal(await exitOf(w), 0, w.stderr());
      const out = w.stdout();
      const tail =
        "\n    \\| trace line 4\n    \\| trace line 5\n    \\| trace line 6\n    \\| trace line 7\n    \\| the reason it broke\n";
      assert.match(out, new RegExp(`✗ ${bad} failed in [\\d.]+s \\(exit 3\\); retry in [\\d.]+s${tail}`));
      assert.match(out, new RegExp(`✗ ${bad} failed in [\\d.]+s \\(exit 3\\); dead-lettered${tail}`));
      assert.doesNotMatch(out, /trace line 3/, "only the last five lines of stderr");
      assert.match(out, /drained: no task left for this worker\n/);
      assert.match(out, /unregistered worker-drain\n/);
      assert.match(out, /summary: done 2, failed 2 \(1 to retry, 1 dead-lettered\); ran \S.*\n$/);
      for (const id of ok) assert.equal((await getTask(server.url, id)).status, "completed");
      const dead = await getTask(server.url, bad);
      assert.equal(dead.status, "failed");
      assert.equal(dead.deadLettered, true);
      assert.equal(dead.attempts, 2, "drain waited for the retry of its own failure");
    } finally {
      await server.close();
    }
  });
});

describe("claudebench worker when its server goes away", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "cb-worker-outage-"));
  });
  after(async () => {
    await killAllServers();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Each run of the command appends its task id to `runs`; a task run twice shows up twice. */
  const runsIn = (file: string) =>
    existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : [];

  const stats = (url: string) =>
    call<{ byStatus: Record<string, number> }>(url, "task.stats").then((s) => s.byStatus);

  it("a completion made while the server is down is retried, and lands once it is back within the lease: the task runs once", async () => {
    const runs = join(dir, "runs-restart");
    const go = join(dir, "go");
    const prefix = uniquePrefix("wk");
    const port = await freePort();
    let server = await startMember({ redisUrl: redis.url, prefix, id: "srv-r", port });
    const created = await call<Task>(server.url, "task.create", { text: "finish me once" });
    // the command records its run, then holds its result until the test has killed the server
    const command = `echo "$CLAUDEBENCH_TASK_ID" >> ${runs}; while [ ! -e ${go} ]; do sleep 0.05; done; echo '{"answer":42}'`;
    // the lease outlasts the restart (startMember waits up to 60 s) and the wait for the completion
    const w = runCli(
      ["worker", "--url", server.url, "--id", "worker-r", "--exec", command].concat([
        "--lease-ms",
        String(2 * SLOW),
        "--poll-ms",
        "100",
      ]),
    );
    try {
      await waitFor(() => runsIn(runs).length === 1, "the command to start", SLOW);
      await kill9(server);
      writeFileSync(go, "");
      // the command has ended and its completion met a dead server
      await waitFor(
        () => new RegExp(`! ${created.id}\\b.*cannot reach`).test(w.stdout()),
        "the worker to fail to reach the server with the completion",
        SLOW,
      );
      server = await startMember({ redisUrl: redis.url, prefix, id: "srv-r", port });
      await until(
        async () => (await getTask(server.url, created.id)).status === "completed",
        "the completion to land on the restarted server",
        SLOW,
      );
      const done = await getTask(server.url, created.id);
      assert.deepEqual(done.result, { answer: 42 });
      assert.equal(done.assignedTo, "worker-r");
      assert.equal(done.attempts, 1);
      await waitFor(() => w.stdout().includes(`✓ ${created.id} completed`), "the worker to report it", SLOW);
      assert.deepEqual(runsIn(runs), [created.id], "the command ran once");
    } finally {
      w.child.kill("SIGKILL");
      await w.exited;
      await kill9(server);
    }
  });

  it("no server for longer than the heartbeat timeout: the restarted leader lets the live worker heartbeat again before failing it, so it keeps its task", async () => {
    const release = join(dir, "release-o");
    const prefix = uniquePrefix("wk");
    const instanceKey = createKeys(prefix).coordination.instance("worker-o");
    const timeoutMs = Number(CLUSTER_ENV.HEARTBEAT_TIMEOUT_MS);
    const admin = new Redis(redis.url);
    /** Redis' clock, which the heartbeats are stamped with. */
    const redisNow = async () => {
      const [s, us] = await admin.time();
      return Number(s) * 1000 + Math.floor(Number(us) / 1000);
    };
    const port = await freePort();
    let server = await startMember({ redisUrl: redis.url, prefix, id: "srv-o", port });
    const created = await call<Task>(server.url, "task.create", { text: "outlive the outage" });
    const w = runCli(
      [
        "worker",
        "--url",
        server.url,
        "--id",
        "worker-o",
        "--exec",
        `while [ ! -e ${release} ]; do sleep 0.2; done`,
      ].concat(["--lease-ms", String(2 * SLOW), "--poll-ms", "100"]),
    );
    try {
      await until(
        async () => (await getTask(server.url, created.id)).assignedTo === "worker-o",
        "the worker to take the task",
        SLOW,
      );
      await kill9(server);
      // no server for three heartbeat timeouts
      await until(
        async () => (await redisNow()) - Number(await admin.hget(instanceKey, "lastSeen")) > 3 * timeoutMs,
        "three heartbeat timeouts without a server",
        SLOW,
      );
      server = await startMember({ redisUrl: redis.url, prefix, id: "srv-o", port });
      const restarted = await redisNow();
      // the worker heartbeats through three timeouts of the new leader: never failed meanwhile
      await until(
        async () => {
          const i = await instanceOf(server.url, "worker-o");
          assert.equal(i?.status, "active", "the live worker was declared failed");
          return Date.parse(i.lastSeen) - restarted > 3 * timeoutMs;
        },
        "the worker to heartbeat through three timeouts after the restart",
        SLOW,
      );
      const task = await getTask(server.url, created.id);
      assert.equal(task.status, "in_progress");
      assert.equal(task.assignedTo, "worker-o");
      assert.equal(task.attempts, 1);
      assert.match(w.stdout(), /! server unavailable .*\n(.*\n)*.*server answering again after/);
    } finally {
      writeFileSync(release, "");
      w.child.kill("SIGKILL");
      await w.exited;
      admin.disconnect();
      await kill9(server);
    }
  });

  it("a completion carried out whose answer was lost: the repeat is refused, and the worker sees the task completed under its own lease", async () => {
    const runs = join(dir, "runs-lost-answer");
    const server = await startTestServer({
      redisUrl: redis.url,
      overrides: { maintenanceIntervalMs: 100, backoffBaseMs: 50, backoffMaxMs: 100 },
    });
    // drops the connection instead of answering the first task.complete (after the server
    // carried it out), as a server dying right after its work would
    let dropped = 0;
    const proxy = await faultyProxy(server.url, ({ method }) => {
      if (method !== "task.complete" || dropped > 0) return "pass";
      dropped++;
      return "lose the answer";
    });
    const first = await call<Task>(server.url, "task.create", { text: "answer lost", priority: 90 });
    const second = await call<Task>(server.url, "task.create", { text: "claimed with it" });
    const command = `echo "$CLAUDEBENCH_TASK_ID" >> ${runs}; echo '{"ok":true}'`;
    const w = runCli(
      ["worker", "--url", proxy.url, "--id", "worker-l", "--exec", command, "--lease-ms", "10000"].concat([
        "--poll-ms",
        "100",
      ]),
    );
    try {
      await waitFor(
        () => w.stdout().includes(`✓ ${first.id} completed`),
        `the worker to report ${first.id} completed`,
        SLOW,
      );
      assert.equal(dropped, 1);
      assert.match(w.stdout(), new RegExp(`✓ ${first.id} completed .*earlier attempt whose answer was lost`));
      const done = await getTask(server.url, first.id);
      assert.equal(done.status, "completed");
      assert.deepEqual(done.result, { ok: true });
      // the lost answer also carried the claim of the next task: it comes back after its lease, and runs once
      await until(
        async () => (await getTask(server.url, second.id)).status === "completed",
        `${second.id} to complete`,
        SLOW,
      );
      assert.deepEqual(runsIn(runs), [first.id, second.id]);
    } finally {
      w.child.kill("SIGKILL");
      await w.exited;
      proxy.close();
      await server.close();
    }
  });

  it("with two --url, a worker whose server is killed carries on with the other; no task runs twice", async () => {
    const runs = join(dir, "runs-failover");
    const group = await startGroup(redis.url, 2);
    const [a, b] = group.members as [Member, Member];
    const total = 30;
    const ids = new Set<string>();
    for (let i = 0; i < total; i++)
      ids.add((await call<Task>(a.url, "task.create", { text: `job ${i}` })).id);
    const command = `echo "$CLAUDEBENCH_TASK_ID" >> ${runs}; sleep 0.3; echo '{"ok":true}'`;
    const w = runCli(
      ["worker", "--url", a.url, "--url", b.url, "--id", "worker-f2", "--exec", command].concat([
        "--concurrency",
        "3",
        "--lease-ms",
        "15000",
        "--poll-ms",
        "100",
      ]),
    );
    try {
      // the server the worker talks to is the one its completions arrive at
      const completions = async (m: Member) =>
        sampleValue(
          parsePrometheus(await (await fetch(`${m.url}/metrics`)).text()),
          "claudebench_calls_total",
          {
            method: "task.complete",
          },
        );
      const serving = await until(
        async () => {
          const [onA, onB] = await Promise.all([completions(a), completions(b)]);
          return onA + onB >= 6 && (onA >= onB ? a : b);
        },
        "a few completions",
        SLOW,
      );
      const other = serving === a ? b : a;
      await kill9(serving);
      // orphans (a claim whose answer died with the server) come back when their lease ends: wait past it
      await until(
        async () => (await stats(other.url)).completed === total,
        `all ${total} tasks to complete`,
        SLOW,
      );
      const ran = runsIn(runs);
      assert.equal(ran.length, total, `runs: ${ran.join(" ")}`);
      assert.deepEqual(new Set(ran), ids, "each task ran exactly once");
      assert.ok((await completions(other)) > 0, "the other server took over the completions");
    } finally {
      w.child.kill("SIGKILL");
      await w.exited;
      await killAllServers();
    }
  });
});

describe("claudebench worker when the server will not take an outcome", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "cb-worker-refused-"));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** Waits until the worker has said how `id` ended: recorded (✓, ✗) or not (any other `!` line). */
  const reported = (w: SpawnedCli, id: string) =>
    waitFor(
      () =>
        new RegExp(
          `[✓✗] ${id} (completed|failed)|! ${id}: (?!its completion (is not recorded yet|was refused))`,
        ).test(w.stdout()),
      `the worker to report ${id}`,
      SLOW,
    );

  it("a result larger than task.complete takes is sent as the end of the output, marked truncated; JSON is read whole", async () => {
    const server = await startTestServer({ redisUrl: redis.url });
    // prints, by the task's text: JSON over the limit, text of control characters (6 bytes
    // each as JSON), or 210 KB of JSON in three-byte characters (split across pipe reads)
    const script = join(dir, "print.mjs");
    writeFileSync(
      script,
      `let input = "";
process.stdin.on("data", (d) => { input += d; });
process.stdin.on("end", () => {
  const { text } = JSON.parse(input);
  if (text === "big json") process.stdout.write(JSON.stringify({ s: "x".repeat(300_000) + "END" }));
  if (text === "control text") process.stdout.write("\\u0001".repeat(70_000) + "END");
  if (text === "wide characters") process.stdout.write(JSON.stringify({ s: "€".repeat(70_000) }));
});
`,
    );
    const w = startWorker(server.url, "worker-big", `${JSON.stringify(process.execPath)} ${script}`);
    try {
      const big = await call<Task>(server.url, "task.create", { text: "big json" });
      const control = await call<Task>(server.url, "task.create", { text: "control text" });
      const wide = await call<Task>(server.url, "task.create", { text: "wide characters" });
      for (const t of [big, control, wide]) await reported(w, t.id);

      for (const t of [big, control]) {
        const done = await getTask(server.url, t.id);
        assert.equal(done.status, "completed", `${t.text}: ${w.stdout()}`);
        const result = done.result as { stdout: string; truncated: boolean };
        assert.equal(result.truncated, true);
        assert.ok(result.stdout.endsWith(t.text === "big json" ? 'END"}' : "END"));
        assert.ok(Buffer.byteLength(JSON.stringify(result)) <= FREE_FORM_MAX_BYTES);
      }
      const whole = await getTask(server.url, wide.id);
      assert.equal(whole.status, "completed");
      assert.deepEqual(whole.result, { s: "€".repeat(70_000) });
    } finally {
      w.child.kill("SIGKILL");
      await w.exited;
      await server.close();
    }
  });

  it("a completion the server refuses is not left to its lease: the task is failed at once, not to be retried, with the reason", async () => {
    // this server takes bodies of 2 KiB: a 4 KB result fits the result's limit but not the body's
    const server = await startTestServer({ redisUrl: redis.url, overrides: { maxBodyBytes: 2048 } });
    const w = startWorker(server.url, "worker-refused", `printf '{"s":"%04000d"}' 0`);
    try {
      const created = await call<Task>(server.url, "task.create", { text: "refused result" });
      await reported(w, created.id);
      const task = await getTask(server.url, created.id);
      assert.equal(task.status, "failed", w.stdout());
      assert.equal(task.deadLettered, true, "not retried: the command would print the same");
      assert.equal(task.attempts, 1);
      assert.match(task.error ?? "", /refused: INVALID_REQUEST: .*larger than 2048 bytes/);
      assert.match(w.stdout(), new RegExp(`✗ ${created.id} failed .*completion refused`));
    } finally {
      w.child.kill("SIGKILL");
      await w.exited;
      await server.close();
    }
  });

  it("INTERNAL for every completion of a task: sent a few times, then the task is failed instead of holding its slot for ever", async () => {
    const server = await startTestServer({ redisUrl: redis.url });
    const completions = new Map<string, number>();
    let broken = "";
    let flaky = "";
    // INTERNAL for every completion of `broken`, and for the first of `flaky`
    const proxy = await faultyProxy(server.url, ({ method, params }) => {
      if (method !== "task.complete") return "pass";
      const id = String(params.id);
      const n = (completions.get(id) ?? 0) + 1;
      completions.set(id, n);
      return id === broken || (id === flaky && n === 1) ? "INTERNAL" : "pass";
    });
    broken = (await call<Task>(server.url, "task.create", { text: "broken", priority: 90, maxAttempts: 1 }))
      .id;
    flaky = (await call<Task>(server.url, "task.create", { text: "flaky" })).id;
    const w = startWorker(proxy.url, "worker-internal", `echo '{"ok":true}'`);
    try {
      await reported(w, broken);
      const failed = await getTask(server.url, broken);
      assert.equal(failed.status, "failed", w.stdout());
      assert.match(failed.error ?? "", /INTERNAL from the proxy/);
      assert.equal(completions.get(broken), 3);
      assert.equal(failed.deadLettered, true, "its one attempt is spent");

      await reported(w, flaky);
      const done = await getTask(server.url, flaky);
      assert.equal(done.status, "completed", "a passing INTERNAL is sent again");
      assert.equal(completions.get(flaky), 2);
    } finally {
      w.child.kill("SIGKILL");
      await w.exited;
      proxy.close();
      await server.close();
    }
  });

  it("a completion refused with a passing failure is sent again until the lease held when the command ended ends, even while renewals succeed", async () => {
    const server = await startTestServer({
      redisUrl: redis.url,
      overrides: { maintenanceIntervalMs: 100 },
    });
    const proxy = await faultyProxy(server.url, ({ method }) =>
      method === "task.complete" ? "UNAVAILABLE" : "pass",
    );
    const leaseMs = 3000;
    const w = startWorker(proxy.url, "worker-unavailable", `echo '{"ok":true}'`, leaseMs);
    try {
      const created = await call<Task>(server.url, "task.create", { text: "never recorded", maxAttempts: 1 });
      await waitFor(
        () => w.stdout().includes(`! ${created.id}: its completion is not recorded yet`),
        "a first refusal",
        SLOW,
      );
      await waitFor(
        () =>
          w.stdout().includes(`! ${created.id}: its completion could not be recorded before its lease ended`),
        "the worker to give up when the lease ends",
        SLOW,
      );
      await until(
        async () => (await getTask(server.url, created.id)).status === "failed",
        "the lease to be reaped",
        SLOW,
      );
      assert.equal((await getTask(server.url, created.id)).error, "lease expired");
    } finally {
      w.child.kill("SIGKILL");
      await w.exited;
      proxy.close();
      await server.close();
    }
  });
});
