import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { after, describe, it } from "node:test";
import type { Redis } from "ioredis";
import type { Config } from "../../src/config.js";
import type { DomainEvent } from "../../src/contract/events.js";
import type { Task } from "../../src/contract/tasks.js";
import { parseEventEntry } from "../../src/domain/events/event-log.js";
import { createKeys, type Keys } from "../../src/storage/keys.js";
import type { Health } from "../helpers/cluster.js";
import { type TestRedis, uniquePrefix, useTestRedis } from "../helpers/redis.js";
import { rpc, startTestServer } from "../helpers/server.js";

/**
 * Coordination through in-process servers on one Redis: instance registration, heartbeats and
 * the leader's failure sweep, maxTasks, auto-assign with capabilities, quorum votes, and the
 * cluster-wide views (get_state, metrics across two servers, health's leader and epoch).
 */

type Server = Awaited<ReturnType<typeof startTestServer>>;

interface Instance {
  id: string;
  roles: string[];
  capabilities: string[];
  maxTasks: number;
  status: string;
  autoAssign: boolean;
  registeredAt: string;
  lastSeen: string;
  activeTasks: number;
}

interface ClaimResult {
  claimed: boolean;
  tasks: Task[];
  token?: number;
}

interface VoteResult {
  voted: boolean;
  quorumReached: boolean;
  finalDecision?: string;
  voteCount: number;
  votesCast: number;
  totalInstances: number;
  majority: number;
}

/**
 * Fast coordination for tests: a tick every 100 ms, failure after 3 s of silence (the live
 * instances heartbeat every 250 ms from this same busy process: 3 s leaves room for a stall).
 */
const HEARTBEAT_TIMEOUT_MS = 3000;
const FAST: Partial<Config> = {
  heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
  maintenanceIntervalMs: 100,
  leaderTermMs: 1000,
  gossipIntervalMs: 200,
};

let redis: TestRedis;
let admin: Redis;
const servers: Server[] = [];

// before Redis stops: the servers are closed first
after(() => Promise.all(servers.map((s) => s.close())));
useTestRedis((started) => {
  redis = started.server;
  admin = started.redis;
});

/** `n` server processes (in this process) sharing one Redis and one fresh key prefix. */
async function cluster(
  n: number,
  overrides: Partial<Config> = FAST,
): Promise<{ urls: string[]; keys: Keys }> {
  const keyPrefix = uniquePrefix("in");
  const started: Server[] = [];
  for (let i = 0; i < n; i++) {
    const server = await startTestServer({
      redisUrl: redis.url,
      keyPrefix,
      instanceId: `${keyPrefix}-srv-${i + 1}`,
      overrides,
    });
    servers.push(server);
    started.push(server);
  }
  return { urls: started.map((s) => s.url), keys: createKeys(keyPrefix) };
}

async function call<T>(url: string, method: string, params: Record<string, unknown> = {}): Promise<T> {
  const { body } = await rpc(url, { jsonrpc: "2.0", id: 1, method, params });
  if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result as T;
}

/** Calls a method that must fail; resolves with the JSON-RPC error. */
async function callError(
  url: string,
  method: string,
  params: Record<string, unknown>,
): Promise<{ code: number; message: string; data: { code: string } & Record<string, unknown> }> {
  const { body } = await rpc(url, { jsonrpc: "2.0", id: 1, method, params });
  assert.ok(body.error, `${method} should fail, got ${JSON.stringify(body.result)}`);
  return body.error;
}

/** Every event on the prefix's stream, oldest first, optionally only those named `name`. */
async function events(keys: Keys, name?: string): Promise<DomainEvent[]> {
  const raw = (await admin.xrange(keys.events(), "-", "+")) as [string, string[]][];
  return raw.flatMap((entry) => parseEventEntry(entry) ?? []).filter((e) => !name || e.event === name);
}

/** Polls `check` until it returns something truthy; fails with `what` after `timeoutMs`. */
async function until<T>(
  check: () => Promise<T | false | null | undefined | "">,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Heartbeats the instances every `everyMs` until stopped (what a live agent does). */
function keepAlive(url: string, ids: string[], everyMs = 250): () => Promise<void> {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await Promise.all(ids.map((id) => call(url, "system.heartbeat", { instanceId: id })));
      await sleep(everyMs);
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}

const register = (url: string, params: Record<string, unknown>) =>
  call<{
    registered: boolean;
    instanceId: string;
    registeredAt: string;
    reregistered: boolean;
    heartbeatIntervalMs: number;
    heartbeatTimeoutMs: number;
  }>(url, "system.register", params);

const listInstances = async (url: string, status?: string) =>
  (await call<{ instances: Instance[] }>(url, "system.instances", status ? { status } : {})).instances;

async function createTasks(url: string, n: number, extra: Record<string, unknown> = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++)
    ids.push((await call<Task>(url, "task.create", { text: `job ${i}`, ...extra })).id);
  return ids;
}

const getTasks = (url: string, ids: string[]) =>
  Promise.all(ids.map((id) => call<Task>(url, "task.get", { id })));

describe("instances", () => {
  it("system.register answers heartbeatIntervalMs = timeout / 3; a re-register replaces roles and maxTasks, seen at once", async () => {
    const { urls } = await cluster(1, { ...FAST, heartbeatTimeoutMs: 60_000 });
    const url = urls[0] as string;
    const first = await register(url, { id: "agent-1", roles: ["coder"], maxTasks: 1, capabilities: ["ts"] });
    assert.equal(first.registered, true);
    assert.equal(first.instanceId, "agent-1");
    assert.equal(first.reregistered, false);
    assert.equal(first.heartbeatTimeoutMs, 60_000);
    assert.equal(first.heartbeatIntervalMs, 20_000);

    let [listed] = await listInstances(url);
    assert.deepEqual(
      { id: listed?.id, roles: listed?.roles, maxTasks: listed?.maxTasks, status: listed?.status },
      { id: "agent-1", roles: ["coder"], maxTasks: 1, status: "active" },
    );
    assert.deepEqual(listed?.capabilities, ["ts"]);

    const again = await register(url, { id: "agent-1", roles: ["reviewer", "tester"], maxTasks: 4 });
    assert.equal(again.reregistered, true);
    assert.equal(again.registeredAt, first.registeredAt, "a live instance keeps its registration time");
    const instances = await listInstances(url);
    assert.equal(instances.length, 1);
    listed = instances[0];
    assert.deepEqual(listed?.roles, ["reviewer", "tester"]);
    assert.equal(listed?.maxTasks, 4);
    assert.deepEqual(listed?.capabilities, [], "the record is replaced, not merged");
    assert.deepEqual(
      (await listInstances(url)).map((i) => i.id),
      ["agent-1"],
    );
    assert.equal(
      (await call<{ instances: Instance[] }>(url, "system.instances", { role: "tester" })).instances.length,
      1,
    );
    assert.equal(
      (await call<{ instances: Instance[] }>(url, "system.instances", { role: "coder" })).instances.length,
      0,
    );

    // The new capacity applies to the very next claim.
    await createTasks(url, 5);
    const claimed = await call<ClaimResult>(url, "task.claim", { workerId: "agent-1", maxTasks: 5 });
    assert.equal(claimed.tasks.length, 4);
  });

  it("a heartbeat from an unknown instance answers alive: false, mustRegister: true", async () => {
    const { urls } = await cluster(1);
    const url = urls[0] as string;
    const unknown = await call<{ alive: boolean; mustRegister: boolean; nextHeartbeatMs: number }>(
      url,
      "system.heartbeat",
      { instanceId: "nobody" },
    );
    assert.deepEqual(unknown, {
      alive: false,
      mustRegister: true,
      nextHeartbeatMs: HEARTBEAT_TIMEOUT_MS / 3,
    });
    await register(url, { id: "somebody", roles: [] });
    const known = await call<{ alive: boolean; mustRegister: boolean }>(url, "system.heartbeat", {
      instanceId: "somebody",
      status: "running tests",
      load: { cpu: 0.5 },
    });
    assert.deepEqual(
      { alive: known.alive, mustRegister: known.mustRegister },
      { alive: true, mustRegister: false },
    );
    const [listed] = await listInstances(url);
    assert.equal((listed as Instance & { statusText?: string }).statusText, "running tests");
  });

  it("system.unregister hands the instance's tasks back at once, attempts given back", async () => {
    const { urls, keys } = await cluster(1, { ...FAST, heartbeatTimeoutMs: 60_000 });
    const url = urls[0] as string;
    await register(url, { id: "leaver", roles: ["worker"] });
    const ids = await createTasks(url, 4);
    const claimed = await call<ClaimResult>(url, "task.claim", {
      workerId: "leaver",
      maxTasks: 3,
      leaseMs: 600_000,
    });
    assert.equal(claimed.tasks.length, 3);
    const held = claimed.tasks.map((t) => t.id);

    const out = await call<{ unregistered: boolean; tasksReassigned: number }>(url, "system.unregister", {
      instanceId: "leaver",
    });
    assert.deepEqual(out, { unregistered: true, tasksReassigned: 3 });
    for (const task of await getTasks(url, held)) {
      assert.equal(task.status, "pending", `${task.id} is pending again`);
      assert.equal(task.attempts, 0, `${task.id}: the attempt is given back`);
      assert.equal(task.assignedTo, undefined);
    }
    assert.equal(await admin.scard(keys.coordination.worker("leaver")), 0);
    const unassigned = await events(keys, "task.unassigned");
    assert.equal(unassigned.length, 3);
    const [listed] = await listInstances(url, "unregistered");
    assert.equal(listed?.id, "leaver");
    const hb = await call<{ alive: boolean }>(url, "system.heartbeat", { instanceId: "leaver" });
    assert.equal(hb.alive, false);
    // Claimable again by someone else, in their original order.
    const other = await call<ClaimResult>(url, "task.claim", { workerId: "other", maxTasks: 4 });
    assert.deepEqual(
      other.tasks.map((t) => t.id),
      ids,
    );

    const missing = await callError(url, "system.unregister", { instanceId: "never-was" });
    assert.equal(missing.data.code, "NOT_FOUND");
  });

  it("maxTasks is enforced by task.claim and task.assign", async () => {
    const { urls } = await cluster(1, { ...FAST, heartbeatTimeoutMs: 60_000 });
    const url = urls[0] as string;
    await register(url, { id: "small", roles: ["worker"], maxTasks: 2 });
    const ids = await createTasks(url, 6);

    const first = await call<ClaimResult>(url, "task.claim", { workerId: "small", maxTasks: 5 });
    assert.equal(first.tasks.length, 2, "maxTasks 5 asked, 2 allowed");
    const full = await call<ClaimResult>(url, "task.claim", { workerId: "small", maxTasks: 5 });
    assert.deepEqual(full, { claimed: false, tasks: [] });

    const blocked = await callError(url, "task.assign", { taskId: ids[3], instanceId: "small" });
    assert.equal(blocked.data.code, "CONFLICT");
    assert.equal(blocked.data.capacity, 2);
    assert.equal(
      (await call<Task>(url, "task.get", { id: ids[3] })).status,
      "pending",
      "a refused assign changes nothing",
    );

    const done = first.tasks[0] as Task;
    await call(url, "task.complete", { id: done.id, workerId: "small", token: done.leaseToken });
    const again = await call<ClaimResult>(url, "task.claim", { workerId: "small", maxTasks: 5 });
    assert.equal(again.tasks.length, 1, "one slot freed by the completion");
    assert.deepEqual(await call<ClaimResult>(url, "task.claim", { workerId: "small", maxTasks: 1 }), {
      claimed: false,
      tasks: [],
    });

    const held = again.tasks[0] as Task;
    await call(url, "task.complete", { id: held.id, workerId: "small", token: held.leaseToken });
    const assigned = await call<{ instanceId: string; task: Task }>(url, "task.assign", {
      taskId: ids[5],
      instanceId: "small",
    });
    assert.equal(assigned.task.assignedTo, "small");
    const [listed] = await listInstances(url);
    assert.equal(listed?.activeTasks, 2);
  });

  it("the leader declares a silent instance failed exactly once; its tasks go back at once, attempts counted", async () => {
    const { urls, keys } = await cluster(2);
    const [a, b] = urls as [string, string];
    await register(a, { id: "doomed", roles: ["worker"] });
    await register(b, { id: "steady", roles: ["worker"] });
    const stopSteady = keepAlive(b, ["steady"]);
    try {
      await createTasks(a, 4);
      // A lease of ten minutes: only the failure sweep can explain the tasks coming back now.
      const claimed = await call<ClaimResult>(a, "task.claim", {
        workerId: "doomed",
        maxTasks: 3,
        leaseMs: 600_000,
      });
      assert.equal(claimed.tasks.length, 3);
      const held = claimed.tasks.map((t) => t.id);
      const steadyTask = await call<ClaimResult>(b, "task.claim", { workerId: "steady", leaseMs: 600_000 });
      assert.equal(steadyTask.tasks.length, 1);

      // "doomed" never heartbeats again.
      const [failed] = await until(async () => {
        const list = (await events(keys, "instance.failed")).filter((e) => e.payload.instanceId === "doomed");
        return list.length > 0 && list;
      }, "the leader to declare doomed failed");
      assert.ok(failed);
      assert.equal(failed.payload.releasedTasks, 3);
      assert.ok(
        failed.ts - Number(failed.payload.lastSeen) >= HEARTBEAT_TIMEOUT_MS,
        `failed only after the heartbeat timeout (${failed.ts - Number(failed.payload.lastSeen)} ms of silence)`,
      );

      for (const task of await getTasks(a, held)) {
        assert.equal(task.status, "pending", `${task.id} back to pending`);
        assert.equal(task.attempts, 1, `${task.id}: the attempt stays counted`);
        assert.equal(task.assignedTo, undefined);
        assert.equal(task.error, "instance failed");
      }
      assert.equal(await admin.zcard(keys.coordination.leases), 1, "only steady's lease is left");

      // Several more ticks of both servers: still exactly one event, and steady is untouched.
      await sleep(800);
      const all = (await events(keys, "instance.failed")).map((e) => e.payload.instanceId);
      assert.deepEqual(all, ["doomed"]);
      const hb = await call<{ alive: boolean; mustRegister: boolean }>(b, "system.heartbeat", {
        instanceId: "doomed",
      });
      assert.deepEqual(
        { alive: hb.alive, mustRegister: hb.mustRegister },
        { alive: false, mustRegister: true },
      );
      assert.deepEqual(
        (await listInstances(a, "failed")).map((i) => i.id),
        ["doomed"],
      );
      assert.deepEqual(
        (await listInstances(b, "active")).map((i) => i.id),
        ["steady"],
      );
      assert.equal((await call<Task>(a, "task.get", { id: steadyTask.tasks[0]?.id })).assignedTo, "steady");
    } finally {
      await stopSteady();
    }
  });
});

describe("a leader that has just taken over", () => {
  it("waits a whole heartbeat timeout before failing anyone: an instance that could not reach a server meanwhile gets to heartbeat again", async () => {
    // long enough that this test reads the new leader's first ticks well within it
    const timeoutMs = 6000;
    const overrides = { ...FAST, heartbeatTimeoutMs: timeoutMs };
    const keyPrefix = uniquePrefix("in");
    const keys = createKeys(keyPrefix);
    const first = await startTestServer({
      redisUrl: redis.url,
      keyPrefix,
      instanceId: `${keyPrefix}-a`,
      overrides,
    });
    await register(first.url, { id: "patient", roles: ["worker"] });
    await first.close(); // no server at all from here
    const redisNow = async () => {
      const [s, us] = await admin.time();
      return Number(s) * 1000 + Math.floor(Number(us) / 1000);
    };
    await until(
      async () =>
        (await redisNow()) - Number(await admin.hget(keys.coordination.instance("patient"), "lastSeen")) >
        timeoutMs,
      "a heartbeat timeout without any server",
    );

    const serverId = `${keyPrefix}-b`;
    const next = await startTestServer({ redisUrl: redis.url, keyPrefix, instanceId: serverId, overrides });
    servers.push(next);
    await until(
      async () => (await call<Health>(next.url, "system.health")).cluster.leader,
      "the new server to lead",
    );
    // two more ticks (each beats, then does the leader's duties)
    const beat = Number(await admin.zscore(keys.coordination.servers, serverId));
    await until(
      async () =>
        Number(await admin.zscore(keys.coordination.servers, serverId)) >=
        beat + 2 * Number(FAST.maintenanceIntervalMs),
      "two ticks of the new leader",
    );
    assert.equal((await listInstances(next.url)).find((i) => i.id === "patient")?.status, "active");
    const hb = await call<{ alive: boolean }>(next.url, "system.heartbeat", { instanceId: "patient" });
    assert.equal(hb.alive, true, "its heartbeat is still taken");

    // the leader fails it after all once it has led, and the instance stayed silent, for a timeout
    await until(
      async () => (await listInstances(next.url)).find((i) => i.id === "patient")?.status === "failed",
      "the silent instance to be failed after the grace",
      4 * timeoutMs,
    );
  });
});

describe("auto-assign", () => {
  it("pending tasks are pushed to the live auto-assign instances up to their maxTasks, none to the others", async () => {
    const { urls, keys } = await cluster(1);
    const url = urls[0] as string;
    await register(url, { id: "auto-1", roles: ["worker"], maxTasks: 3, autoAssign: true });
    await register(url, { id: "auto-2", roles: ["worker"], maxTasks: 3, autoAssign: true });
    await register(url, { id: "manual", roles: ["worker"], maxTasks: 3 });
    const stop = keepAlive(url, ["auto-1", "auto-2", "manual"]);
    try {
      const ids = await createTasks(url, 6);
      const tasks = await until(async () => {
        const all = await getTasks(url, ids);
        return all.every((t) => t.status === "in_progress") && all;
      }, "all six tasks to be pushed to the auto-assign instances");
      const per: Record<string, number> = {};
      for (const t of tasks) per[t.assignedTo as string] = (per[t.assignedTo as string] ?? 0) + 1;
      assert.deepEqual(per, { "auto-1": 3, "auto-2": 3 });

      // More work: nobody has room, so it waits; "manual" never gets pushed anything.
      const [extra] = await createTasks(url, 1);
      await sleep(500);
      assert.equal((await call<Task>(url, "task.get", { id: extra })).status, "pending");
      const manual = (await listInstances(url)).find((i) => i.id === "manual");
      assert.equal(manual?.activeTasks, 0);
      const pushed = await events(keys, "task.assigned");
      assert.equal(pushed.length, 6);
      assert.ok(pushed.every((e) => e.payload.auto === true));
    } finally {
      await stop();
    }
  });

  it("a task requiring a capability only goes to an instance that has it", async () => {
    const { urls } = await cluster(1);
    const url = urls[0] as string;
    await register(url, {
      id: "gpu-box",
      roles: ["worker"],
      capabilities: ["gpu"],
      maxTasks: 1,
      autoAssign: true,
    });
    await register(url, { id: "cpu-box", roles: ["worker"], maxTasks: 5, autoAssign: true });
    const stop = keepAlive(url, ["gpu-box", "cpu-box"]);
    try {
      const [g1, g2] = await createTasks(url, 2, { requires: ["gpu"] });
      const [plain] = await createTasks(url, 1);
      await until(async () => {
        const [a, c] = await getTasks(url, [g1 as string, plain as string]);
        return a?.status === "in_progress" && c?.status === "in_progress";
      }, "the first gpu task and the plain task to be pushed");
      const [t1, t2, t3] = await getTasks(url, [g1 as string, g2 as string, plain as string]);
      assert.equal(t1?.assignedTo, "gpu-box");
      assert.equal(t3?.assignedTo, "cpu-box", "the gpu box is full: the plain task goes to the cpu box");
      // The second gpu task waits for the gpu box, however many ticks pass.
      await sleep(500);
      assert.equal((await call<Task>(url, "task.get", { id: g2 })).status, "pending");
      assert.equal(t2?.status, "pending");

      await call(url, "task.complete", { id: g1, workerId: "gpu-box", token: t1?.leaseToken });
      const next = await until(async () => {
        const t = await call<Task>(url, "task.get", { id: g2 });
        return t.status === "in_progress" && t;
      }, "the second gpu task to be pushed once the gpu box has room");
      assert.equal(next.assignedTo, "gpu-box");
    } finally {
      await stop();
    }
  });
});

describe("quorum", () => {
  it("3 voters: the second equal vote decides, once; a late different vote changes nothing", async () => {
    const { urls, keys } = await cluster(1);
    const url = urls[0] as string;
    const vote = (voter: string, value: string) =>
      call<VoteResult>(url, "system.quorum.vote", {
        decision: "deploy-1",
        instanceId: voter,
        value,
        totalInstances: 3,
      });
    const v1 = await vote("v1", "ship");
    assert.deepEqual(v1, {
      voted: true,
      quorumReached: false,
      voteCount: 1,
      votesCast: 1,
      totalInstances: 3,
      majority: 2,
    });
    const v2 = await vote("v2", "ship");
    assert.equal(v2.quorumReached, true);
    assert.equal(v2.finalDecision, "ship");
    assert.equal(v2.voteCount, 2);
    const made = await events(keys, "quorum.decision.made");
    assert.equal(made.length, 1);
    assert.deepEqual(made[0]?.payload, { decision: "deploy-1", value: "ship", votes: 2, total: 3 });

    const v3 = await vote("v3", "hold");
    assert.equal(v3.quorumReached, true);
    assert.equal(v3.finalDecision, "ship", "the decision stands");
    assert.equal(v3.voteCount, 1);
    assert.equal(v3.votesCast, 3);
    // Even a majority for another value afterwards does not decide again.
    const flip = await vote("v1", "hold");
    assert.equal(flip.voteCount, 2);
    assert.equal(flip.finalDecision, "ship");
    assert.equal((await events(keys, "quorum.decision.made")).length, 1);
  });

  it("a re-vote by the same voter replaces its vote instead of counting twice", async () => {
    const { urls } = await cluster(1);
    const url = urls[0] as string;
    const vote = (voter: string, value: string) =>
      call<VoteResult>(url, "system.quorum.vote", {
        decision: "pick",
        instanceId: voter,
        value,
        totalInstances: 3,
      });
    const once = await vote("v1", "a");
    const twice = await vote("v1", "a");
    assert.deepEqual([once.voteCount, twice.voteCount], [1, 1]);
    assert.equal(twice.votesCast, 1);
    assert.equal(twice.quorumReached, false, "one voter twice is not a majority of 3");
    const moved = await vote("v1", "b");
    assert.deepEqual([moved.voteCount, moved.votesCast, moved.quorumReached], [1, 1, false]);
    const other = await vote("v2", "a");
    assert.equal(other.voteCount, 1, "v1's vote for a was replaced by b");
    assert.equal(other.quorumReached, false);
    const third = await vote("v3", "a");
    assert.equal(third.quorumReached, true);
    assert.equal(third.finalDecision, "a");
  });

  it("decisions voted at the same time, interleaved, do not mix", async () => {
    const { urls, keys } = await cluster(2);
    const decisions = Array.from({ length: 10 }, (_, i) => `d-${i}`);
    const voters = ["v1", "v2", "v3", "v4", "v5"];
    const ballots = decisions.flatMap((decision, d) =>
      voters.map((voter, v) => ({
        decision,
        instanceId: voter,
        value: `value-of-${decision}`,
        totalInstances: 5,
        d,
        v,
      })),
    );
    // Interleave: v1 of every decision, then v2 of every decision, ... all in flight at once, over both servers.
    ballots.sort((x, y) => x.v - y.v || x.d - y.d);
    const results = await Promise.all(
      ballots.map(({ d, v, ...params }) =>
        call<VoteResult>(urls[(d + v) % 2] as string, "system.quorum.vote", params),
      ),
    );
    for (const [i, r] of results.entries()) {
      const ballot = ballots[i] as (typeof ballots)[number];
      assert.equal(r.totalInstances, 5);
      if (r.finalDecision !== undefined)
        assert.equal(r.finalDecision, ballot.value, `${ballot.decision} decided its own value`);
    }
    const made = await events(keys, "quorum.decision.made");
    assert.equal(made.length, decisions.length, "one decision event per decision");
    assert.deepEqual(
      made.map((e) => [e.payload.decision, e.payload.value, e.payload.votes]).sort(),
      decisions.map((d) => [d, `value-of-${d}`, 3]).sort(),
    );
    for (const decision of decisions) {
      const votes = await admin.hgetall(keys.coordination.quorum(decision));
      assert.deepEqual(
        votes,
        Object.fromEntries(voters.map((v) => [v, `value-of-${decision}`])),
        `${decision} holds only its own votes`,
      );
      assert.equal(await admin.get(`${keys.coordination.quorum(decision)}:result`), `value-of-${decision}`);
    }
  });

  it("without totalInstances the majority is of the live registered instances", async () => {
    const { urls } = await cluster(1, { ...FAST, heartbeatTimeoutMs: 60_000 });
    const url = urls[0] as string;
    for (let i = 1; i <= 5; i++) await register(url, { id: `member-${i}`, roles: ["voter"] });
    await register(url, { id: "gone", roles: ["voter"] });
    await call(url, "system.unregister", { instanceId: "gone" });
    const vote = (voter: string) =>
      call<VoteResult>(url, "system.quorum.vote", {
        decision: "live-majority",
        instanceId: voter,
        value: "yes",
      });
    const first = await vote("member-1");
    assert.deepEqual(
      [first.totalInstances, first.majority],
      [5, 3],
      "5 live instances: the unregistered one does not count",
    );
    assert.equal((await vote("member-2")).quorumReached, false);
    const third = await vote("member-3");
    assert.equal(third.quorumReached, true);
    assert.equal(third.finalDecision, "yes");
  });
});

describe("cluster views", () => {
  it("system.get_state returns the instances, task counts, servers, leader and recent events", async () => {
    const { urls, keys } = await cluster(1, { ...FAST, heartbeatTimeoutMs: 60_000 });
    const url = urls[0] as string;
    const serverId = `${keys.prefix}-srv-1`;
    await register(url, { id: "viewer", roles: ["worker"], maxTasks: 2 });
    const [t1, t2] = await createTasks(url, 2);
    await call(url, "task.claim", { workerId: "viewer" });
    await until(
      async () => (await call<Health>(url, "system.health")).cluster.leader,
      "the only server to lead",
    );

    const state = await call<{
      instances: Instance[];
      taskCounts: Record<string, number>;
      tasks: { status: string; count: number }[];
      servers: { id: string; leader: boolean }[];
      leader: { serverId: string | null; epoch: number };
      recentEvents: DomainEvent[];
    }>(url, "system.get_state", { events: 20 });
    assert.deepEqual(
      state.instances.map((i) => [i.id, i.status, i.activeTasks]),
      [["viewer", "active", 1]],
    );
    assert.equal(state.taskCounts.pending, 1);
    assert.equal(state.taskCounts.in_progress, 1);
    assert.deepEqual(
      state.tasks.find((t) => t.status === "pending"),
      { status: "pending", count: 1 },
    );
    assert.deepEqual(
      state.servers.map((s) => [s.id, s.leader]),
      [[serverId, true]],
    );
    assert.equal(state.leader.serverId, serverId);
    assert.ok(state.leader.epoch >= 1);
    // Newest first, straight from the event stream (as it was when read: later events may follow).
    const names = state.recentEvents.map((e) => e.event);
    const newest = state.recentEvents[0]?.id as string;
    const stream = (await admin.xrevrange(keys.events(), newest, "-", "COUNT", 20)).map(([id]) => id);
    assert.deepEqual(
      state.recentEvents.map((e) => e.id),
      stream,
    );
    for (const name of ["instance.registered", "task.created", "task.claimed", "leader.elected"]) {
      assert.ok(names.includes(name), `recent events include ${name}: ${names.join(", ")}`);
    }
    const created = state.recentEvents.filter((e) => e.event === "task.created");
    assert.deepEqual(created.map((e) => (e.payload.task as { id: string }).id).sort(), [t1, t2].sort());
    assert.ok(state.recentEvents.every((e) => e.source === serverId));
    const few = await call<{ recentEvents: DomainEvent[] }>(url, "system.get_state", { events: 2 });
    assert.equal(few.recentEvents.length, 2);
  });

  it("system.metrics detailed sums the calls handled by every server process", async () => {
    const { urls, keys } = await cluster(2, { ...FAST, metricsPublishMs: 200 });
    const [a, b] = urls as [string, string];
    for (let i = 0; i < 3; i++) await call(a, "system.ping");
    for (let i = 0; i < 5; i++) await call(b, "system.ping");
    await callError(b, "task.get", { id: "t-999" });

    type Metrics = {
      eventsProcessed: number;
      errors: number;
      serverProcesses: number;
      methods: Record<string, { calls: number; errors: number; errorsByCode: Record<string, number> }>;
      servers: { serverId: string; calls: number; errors: number }[];
    };
    for (const here of [a, b]) {
      const m = await until(async () => {
        const got = await call<Metrics>(here, "system.metrics", { detailed: true });
        return got.methods["system.ping"]?.calls === 8 && got.methods["task.get"]?.calls === 1 && got;
      }, `${here}: pings from both servers in the cluster totals (published every 200 ms)`);
      assert.equal(m.serverProcesses, 2);
      assert.equal(m.servers.length, 2);
      assert.deepEqual(m.servers.map((s) => s.serverId).sort(), [
        `${keys.prefix}-srv-1`,
        `${keys.prefix}-srv-2`,
      ]);
      assert.deepEqual(m.methods["task.get"]?.errorsByCode, { NOT_FOUND: 1 });
      assert.ok(m.errors >= 1);
      const sum = m.servers.reduce((n, s) => n + s.calls, 0);
      assert.equal(m.eventsProcessed, sum, "the totals are the sum of the per-server rows");
      const bRow = m.servers.find((s) => s.serverId === `${keys.prefix}-srv-2`);
      assert.ok(
        bRow && bRow.calls >= 6 && bRow.errors >= 1,
        `server B's row counts its calls: ${JSON.stringify(bRow)}`,
      );
    }
  });

  it("a hung peer (accepts, never answers) costs the leader neither its term nor its duties", async (t) => {
    // leaderTermMs 1000 with a 100 ms tick: a tick that waited for the 1 s probe of a hung peer
    // before renewing would let the term lapse again and again.
    const { urls, keys } = await cluster(2);
    const sockets = new Set<Socket>();
    const blackhole = createServer((socket) => {
      sockets.add(socket); // accept and never answer, like a SIGSTOPped process
    });
    await new Promise<void>((resolve) => blackhole.listen(0, "127.0.0.1", resolve));
    const address = blackhole.address();
    assert.ok(address && typeof address === "object");
    const hungUrl = `http://127.0.0.1:${address.port}`;
    const member = async () => {
      await admin.hset(keys.coordination.server("hung"), {
        id: "hung",
        url: hungUrl,
        partitioned: "0",
        view: "[]",
      });
      await admin.zadd(keys.coordination.servers, Date.now(), "hung");
    };
    // Both servers run in this process: if its event loop itself stalls for most of a term, a
    // lost term proves nothing, and the watch is repeated (at most three times).
    const stalls = monitorEventLoopDelay({ resolution: 10 });
    stalls.enable();
    try {
      await member();
      await until(
        async () => (await call<Health>(urls[0] as string, "system.health")).cluster.members === 3,
        "the hung member to be seen",
      );
      // A silent instance is still failed on time while the probes hang.
      await register(urls[0] as string, { id: "silent", roles: [] });
      for (let attempt = 1; ; attempt++) {
        const elections = (await events(keys, "leader.elected")).length;
        const terms = new Set<string>();
        stalls.reset();
        const watchUntil = Date.now() + 3000;
        while (Date.now() < watchUntil) {
          await member(); // the hung member keeps its membership fresh
          const views = (await Promise.all(urls.map((u) => call<Health>(u, "system.health")))).map(
            (h) => h.cluster,
          );
          for (const v of views) {
            assert.equal(v.partitioned, false, "2 of 3 members answer: not partitioned");
            terms.add(`${v.leaderId}|${v.epoch}`);
          }
          await sleep(100);
        }
        const newElections = (await events(keys, "leader.elected")).length - elections;
        const stalledMs = Math.round(stalls.max / 1e6);
        if (terms.size === 1 && newElections === 0) break;
        const lost = `the leader's term changed ${newElections} time(s) in 3 s (${[...terms].join(", ")}); this process stalled at most ${stalledMs} ms`;
        assert.ok(stalledMs > 500 && attempt < 3, lost);
        t.diagnostic(`attempt ${attempt}: ${lost}; watching again`);
      }
      await until(
        async () => (await events(keys, "instance.failed")).some((e) => e.payload.instanceId === "silent"),
        "the leader to fail the silent instance",
      );
    } finally {
      stalls.disable();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => blackhole.close(resolve));
    }
  });

  it("system.health names the leader and its epoch, the same on every server", async () => {
    const { urls, keys } = await cluster(2);
    // One consistent snapshot: both servers and the leader key in Redis agree.
    const [ha, hb] = await until(async () => {
      const both = (await Promise.all(urls.map((u) => call<Health>(u, "system.health")))) as [Health, Health];
      const [x, y] = both;
      const key = await admin.get(keys.coordination.leader);
      return (
        x.cluster.leaderId &&
        x.cluster.leaderId === y.cluster.leaderId &&
        x.cluster.epoch === y.cluster.epoch &&
        key === `${x.cluster.leaderId}|${x.cluster.epoch}` &&
        both
      );
    }, "both servers to agree on a leader");
    assert.equal(ha.cluster.epoch, hb.cluster.epoch);
    assert.ok(ha.cluster.epoch >= 1);
    assert.equal(Number(ha.cluster.leader) + Number(hb.cluster.leader), 1, "exactly one leads");
    const leader = ha.cluster.leader ? ha : hb;
    assert.equal(leader.cluster.leaderId, leader.cluster.serverId);
    assert.equal(ha.status, "healthy");
    assert.equal(ha.cluster.partitioned, false);
    const elected = (await events(keys, "leader.elected")).filter(
      (e) => e.payload.epoch === leader.cluster.epoch,
    );
    assert.deepEqual(
      elected.map((e) => e.payload),
      [{ leaderId: leader.cluster.serverId, epoch: leader.cluster.epoch }],
      "the term was announced once, naming the leader",
    );
    // GET /health serves the same figures without JSON-RPC.
    const res = await fetch(`${urls[0]}/health`);
    assert.equal(res.status, 200);
    const plain = (await res.json()) as Health;
    assert.equal(plain.cluster.serverId, ha.cluster.serverId);
    assert.ok(plain.cluster.epoch >= ha.cluster.epoch);
    assert.ok(plain.cluster.leaderId, "GET /health names the leader");
  });
});
