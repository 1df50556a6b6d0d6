import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, describe, it } from "node:test";
import type { Redis } from "ioredis";
import type { Task } from "../../src/contract/tasks.js";
import { AppError } from "../../src/core/errors.js";
import { TaskQueue } from "../../src/domain/tasks/queue.js";
import type { Keys } from "../../src/storage/keys.js";
import { CoordinationScripts } from "../../src/storage/scripts.js";
import { waitFor } from "../helpers/cli.js";
import {
  assertLeadershipHistory,
  call,
  formed,
  health,
  kill9,
  killAllServers,
  LEADER_TERM_MS,
  type Member,
  RENEW_MS,
  events as readEvents,
  sleep,
  startGroup as startServers,
  TICK_MS,
  until,
  watchLeadership,
} from "../helpers/cluster.js";
import { type TestRedis, useTestRedis } from "../helpers/redis.js";

/**
 * Several real `claudebench serve` processes on one Redis and one key prefix, i.e. one cluster:
 * a shared view of the agents, the leader failing an agent killed with kill -9 (its tasks done
 * by others exactly once), leader failover with epoch fencing (after kill -9, and after a stall
 * of the leader: SIGSTOP past its term, then SIGCONT), a batch finished by the
 * survivors of a kill -9, and the partition flag under SIGSTOP. The heartbeat soak is in
 * cluster-soak.test.ts (the test runner gives each file 120 s).
 */

interface ClaimResult {
  claimed: boolean;
  tasks: Task[];
}

let redis: TestRedis;
let admin: Redis;

// before Redis stops: the servers are killed first
after(() => killAllServers());
useTestRedis((started) => {
  redis = started.server;
  admin = started.redis;
});

const startGroup = (n: number) => startServers(redis.url, n);
const events = (keys: Keys, name?: string) => readEvents(admin, keys, name);

/** Heartbeats each instance through its server every `everyMs` until stopped. */
function keepAlive(beats: [url: string, instanceId: string][], everyMs = 300): () => Promise<void> {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await Promise.all(beats.map(([url, id]) => call(url, "system.heartbeat", { instanceId: id })));
      await sleep(everyMs);
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}

/**
 * An agent in a process of its own: registers (maxTasks 3), heartbeats every 300 ms, claims
 * three tasks with a ten-minute lease, prints their ids and then just keeps heartbeating.
 */
const AGENT_SCRIPT = `
const url = process.env.AGENT_URL;
const id = process.env.AGENT_ID;
async function call(method, params) {
  const res = await fetch(url + "/rpc", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = await res.json();
  if (body.error) throw new Error(method + ": " + JSON.stringify(body.error));
  return body.result;
}
await call("system.register", { id, roles: ["worker"], maxTasks: 3 });
setInterval(() => call("system.heartbeat", { instanceId: id }).catch(() => {}), 300);
const claimed = await call("task.claim", { workerId: id, maxTasks: 3, leaseMs: 600000 });
console.log("CLAIMED " + JSON.stringify(claimed.tasks.map((t) => t.id)));
`;

function startAgent(url: string, id: string) {
  const child = spawn(process.execPath, ["--input-type=module", "-e", AGENT_SCRIPT], {
    env: { ...process.env, AGENT_URL: url, AGENT_ID: id },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  child.stderr.on("data", (d) => {
    err += d;
  });
  const exited = new Promise<unknown>((resolve) => child.once("exit", resolve));
  return { child, exited, stdout: () => out, stderr: () => err };
}

/** A claimer agent: takes one task at a time through its server and completes it at once. */
function claimer(url: string, workerId: string): { stop(): Promise<void>; completed: string[] } {
  let stopped = false;
  const completed: string[] = [];
  const loop = (async () => {
    while (!stopped) {
      const { tasks } = await call<ClaimResult>(url, "task.claim", { workerId, leaseMs: 600_000 });
      const task = tasks[0];
      if (!task) {
        await sleep(50);
        continue;
      }
      await call(url, "task.complete", {
        id: task.id,
        workerId,
        token: task.leaseToken,
        result: { by: workerId },
      });
      completed.push(task.id);
    }
  })();
  return {
    completed,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

describe("cluster of serve processes", () => {
  it("agents see one state through every process; an agent killed with kill -9 is failed once and its tasks are done by others exactly once", async () => {
    const group = await startGroup(3);
    const [s1, s2, s3] = group.members as [Member, Member, Member];
    const { keys } = group;
    await formed(group);

    await call(s1.url, "system.register", { id: "agent-a", roles: ["planner"], capabilities: ["ts"] });
    await call(s2.url, "system.register", { id: "agent-b", roles: ["worker"], maxTasks: 2 });
    await call(s3.url, "system.register", { id: "agent-c", roles: ["worker"], maxTasks: 2 });
    const views = await Promise.all(
      group.members.map((m) => call<{ instances: { id: string }[] }>(m.url, "system.instances")),
    );
    assert.deepEqual(views[1], views[0], "srv-2 shows what srv-1 shows");
    assert.deepEqual(views[2], views[0], "srv-3 shows what srv-1 shows");
    assert.deepEqual(views[0]?.instances.map((i) => i.id).sort(), ["agent-a", "agent-b", "agent-c"]);

    const stopBeats = keepAlive([
      [s1.url, "agent-a"],
      [s2.url, "agent-b"],
      [s3.url, "agent-c"],
    ]);
    const agent = startAgent(s1.url, "agent-x");
    const claimers: ReturnType<typeof claimer>[] = [];
    try {
      const ids: string[] = [];
      for (let i = 0; i < 9; i++)
        ids.push((await call<Task>(s1.url, "task.create", { text: `job ${i}` })).id);

      await waitFor(
        () => agent.stdout().includes("CLAIMED") || agent.child.exitCode !== null,
        "agent-x to claim its tasks",
      );
      assert.equal(agent.child.exitCode, null, `agent-x exited: ${agent.stderr()}`);
      const held = JSON.parse(/CLAIMED (.*)/.exec(agent.stdout())?.[1] ?? "[]") as string[];
      assert.equal(held.length, 3);
      assert.equal(
        (
          await call<{ instances: { id: string; activeTasks: number }[] }>(s3.url, "system.instances")
        ).instances.find((i) => i.id === "agent-x")?.activeTasks,
        3,
        "srv-3 sees agent-x (registered through srv-1) holding three tasks",
      );

      claimers.push(claimer(s2.url, "agent-b"), claimer(s3.url, "agent-c"));
      const others = ids.filter((id) => !held.includes(id));
      await until(
        async () => (await events(keys, "task.completed")).length >= others.length,
        "the other agents to complete the six free tasks",
      );
      assert.deepEqual(
        (await events(keys, "task.completed")).map((e) => (e.payload.task as { id: string }).id).sort(),
        [...others].sort(),
      );
      // agent-x is alive and heartbeating: its tasks are still its own.
      for (const task of await Promise.all(held.map((id) => call<Task>(s2.url, "task.get", { id })))) {
        assert.equal(task.assignedTo, "agent-x");
      }

      agent.child.kill("SIGKILL");
      await agent.exited;

      const failed = await until(async () => {
        const list = (await events(keys, "instance.failed")).filter(
          (e) => e.payload.instanceId === "agent-x",
        );
        return list.length > 0 && list[0];
      }, "the leader to declare agent-x failed (heartbeat timeout 2 s)");
      assert.equal(failed.payload.releasedTasks, 3);
      // Declared by the leader of the time: the last leader.elected before it names its source.
      const byNumber = (id: string) => id.split("-").map(Number) as [number, number];
      const [ms, seq] = byNumber(failed.id);
      const term = (await events(keys, "leader.elected"))
        .filter((e) => {
          const [m, q] = byNumber(e.id);
          return m < ms || (m === ms && q < seq);
        })
        .at(-1);
      assert.equal(failed.source, term?.payload.leaderId, "declared by the leader");

      await until(
        async () => (await events(keys, "task.completed")).length >= ids.length,
        "agent-b and agent-c to complete agent-x's tasks",
      );
      await Promise.all(claimers.map((c) => c.stop()));
      // A few more ticks of every server: nothing is declared or completed twice.
      await sleep(4 * TICK_MS);

      const completed = await events(keys, "task.completed");
      const perTask = new Map<string, number>();
      for (const e of completed) {
        const id = (e.payload.task as { id: string }).id;
        perTask.set(id, (perTask.get(id) ?? 0) + 1);
      }
      assert.deepEqual([...perTask.keys()].sort(), [...ids].sort());
      assert.ok(
        [...perTask.values()].every((n) => n === 1),
        `each task completed exactly once: ${JSON.stringify([...perTask])}`,
      );
      for (const task of await Promise.all(held.map((id) => call<Task>(s3.url, "task.get", { id })))) {
        assert.equal(task.status, "completed");
        assert.ok(
          ["agent-b", "agent-c"].includes(task.assignedTo as string),
          `${task.id} done by ${task.assignedTo}`,
        );
        assert.equal(task.attempts, 2, `${task.id}: agent-x's attempt counted`);
      }
      const failures = (await events(keys, "instance.failed")).map((e) => e.payload.instanceId);
      assert.deepEqual(failures, ["agent-x"], "instance.failed exactly once, for agent-x only");
      for (const m of group.members) {
        const list = (await call<{ instances: { id: string; status: string }[] }>(m.url, "system.instances"))
          .instances;
        assert.deepEqual(
          Object.fromEntries(list.map((i) => [i.id, i.status])),
          { "agent-a": "active", "agent-b": "active", "agent-c": "active", "agent-x": "failed" },
          `${m.id}'s view`,
        );
      }
    } finally {
      agent.child.kill("SIGKILL");
      await Promise.all(claimers.map((c) => c.stop()));
      await stopBeats();
      for (const m of group.members) await kill9(m);
    }
  });

  it("kill -9 of the leader: a survivor leads within the term plus a renewal interval, at a higher epoch, never two leaders of one epoch; the old epoch's writes are refused", async () => {
    const group = await startGroup(3);
    const { keys } = group;
    try {
      const { leaderId, epoch } = await formed(group);
      const oldToken = `${leaderId}|${epoch}`;
      assert.equal(await admin.get(keys.coordination.leader), oldToken);
      const watch = watchLeadership(group.members);

      await kill9(group.byId(leaderId));
      const killedAt = Date.now();
      const survivors = group.members.filter((m) => m.id !== leaderId);
      const elected = await until(
        async () => {
          const [x, y] = (await Promise.all(survivors.map((m) => health(m.url)))).map((h) => h.cluster);
          const agreed =
            x?.leaderId &&
            x.leaderId !== leaderId &&
            x.leaderId === y?.leaderId &&
            x.epoch > epoch &&
            x.epoch === y.epoch &&
            (await admin.get(keys.coordination.leader)) === `${x.leaderId}|${x.epoch}`;
          return agreed && x;
        },
        "the survivors to agree on a new leader",
        15_000,
        25,
      );
      const tookMs = Date.now() - killedAt;
      // The documented bound (docs/cluster.md), with room for a busy 2-core machine.
      const bound = LEADER_TERM_MS + RENEW_MS + 3000;
      assert.ok(tookMs < bound, `new leader ${elected.leaderId} after ${tookMs} ms (bound ${bound} ms)`);
      assert.ok(survivors.some((m) => m.id === elected.leaderId));
      const announced = (await events(keys, "leader.elected")).filter(
        (e) => e.payload.epoch === elected.epoch,
      );
      assert.deepEqual(
        announced.map((e) => e.payload),
        [{ leaderId: elected.leaderId, epoch: elected.epoch }],
      );
      await sleep(RENEW_MS * 2); // a few more answers under the new leader
      assertLeadershipHistory(await watch.stop());

      // The old leader's token, replayed (as by a leader that was paused, not dead): refused.
      const scripts = new CoordinationScripts(admin, keys, "e2e-stale-leader", 1000);
      assert.deepEqual(
        await scripts.run("failInstance", keys.coordination.instance("agent-z"), [
          "agent-z",
          Date.now(),
          oldToken,
        ]),
        ["STALE_EPOCH"],
      );
      const queue = new TaskQueue(admin, keys, "e2e-stale-leader", 1000);
      await assert.rejects(
        queue.maintain(10, 0, oldToken),
        (err: unknown) =>
          err instanceof AppError && err.code === "CONFLICT" && /no longer leads/.test(err.message),
      );
      // The same calls with the current token are accepted: the refusal is about the epoch.
      // (The current token is read again just before: on a starved machine a term can lapse.)
      await until(async () => {
        const current = (await admin.get(keys.coordination.leader)) ?? "";
        const reply = (await scripts.run("failInstance", keys.coordination.instance("agent-z"), [
          "agent-z",
          Date.now(),
          current,
        ])) as string[];
        if (reply[0] === "STALE_EPOCH") return false; // the term changed between the two calls: again
        assert.deepEqual(reply, ["ALIVE"]);
        return queue.maintain(10, 0, current).then(
          () => true,
          () => false,
        );
      }, "the current leadership token to be accepted");
    } finally {
      for (const m of group.members) await kill9(m);
    }
  });

  it("a leader stalled past its term (SIGSTOP) is replaced, and once resumed never claims its old term", async () => {
    const group = await startGroup(3);
    const { keys } = group;
    try {
      const { leaderId, epoch } = await formed(group);
      const stalled = group.byId(leaderId);
      const watch = watchLeadership(group.members);
      await until(async () => (await health(stalled.url)).cluster.leader, "the watch to see the leader");
      stalled.cli.child.kill("SIGSTOP");
      const stoppedAt = Date.now();

      const survivors = group.members.filter((m) => m !== stalled);
      const successor = await until(
        async () => {
          const views = (await Promise.all(survivors.map((m) => health(m.url)))).map((h) => h.cluster);
          return views.find((v) => v.leader && v.epoch > epoch);
        },
        "a survivor to lead",
        15_000,
        25,
      );
      const tookMs = Date.now() - stoppedAt;
      const bound = LEADER_TERM_MS + RENEW_MS + 3000;
      assert.ok(tookMs < bound, `new leader ${successor.serverId} after ${tookMs} ms (bound ${bound} ms)`);

      // Resumed (its watch question has waited for it), it answers as a follower at once.
      await sleep(RENEW_MS);
      const resumedAt = Date.now();
      stalled.cli.child.kill("SIGCONT");
      await until(async () => {
        const h = (await health(stalled.url)).cluster;
        return !h.leader && h.leaderId === successor.serverId && h.epoch >= successor.epoch;
      }, "the resumed server to follow the new leader");
      await sleep(RENEW_MS * 2);
      const seen = await watch.stop();
      const afterResume = seen.filter((s) => s.id === stalled.id && s.answeredAt >= resumedAt);
      assert.ok(afterResume.length > 0, "the resumed server was asked");
      assert.deepEqual(
        afterResume.filter((s) => s.leader && s.epoch < successor.epoch),
        [],
        `once resumed, ${stalled.id} never said it led its old term (${epoch}) while ${successor.serverId} led ${successor.epoch}`,
      );
      assertLeadershipHistory(seen);
      assert.equal(await admin.get(keys.coordination.leader), `${successor.serverId}|${successor.epoch}`);
    } finally {
      for (const m of group.members) m.cli.child.kill("SIGCONT");
      for (const m of group.members) await kill9(m);
    }
  });

  it("a batch of 1,000 items on three processes at once: one killed with kill -9 mid-way, the survivors finish it, each item counted once", async () => {
    const group = await startGroup(3);
    const { keys } = group;
    const batchId = "b-1000";
    const key = keys.coordination.batch(batchId);
    try {
      await formed(group);
      const items = Array.from({ length: 1000 }, (_, i) => ({ n: i }));
      // Each item goes through a real handler (a state snapshot, ~1 ms) so that the batch lasts long enough to be cut.
      const runs = group.members.map((m, i) =>
        call<{ processed: boolean; itemsProcessed: number; status: string; done: number; total: number }>(
          m.url,
          "system.batch.process",
          {
            batchId,
            instanceId: `proc-${i + 1}`,
            items,
            chunk: 10,
            leaseMs: 1000,
            processor: "system.get_state",
          },
        ).then(
          (result) => ({ ok: true as const, result }),
          (error: unknown) => ({ ok: false as const, error }),
        ),
      );
      const victim = group.members[1] as Member;

      await until(
        async () => Number((await admin.hget(key, "done")) ?? 0) >= 100,
        "100 items to be done",
        15_000,
        5,
      );
      // Freeze the victim at a moment it holds leased items, then kill it there.
      let orphans: string[] = [];
      for (;;) {
        victim.cli.child.kill("SIGSTOP");
        await sleep(20); // let a command it sent just before land first
        const owners = await admin.hgetall(`${key}:owner`);
        const doing = new Set(await admin.zrange(`${key}:doing`, 0, -1));
        orphans = Object.entries(owners)
          .filter(([index, owner]) => owner === "proc-2" && doing.has(index))
          .map(([index]) => index);
        if (orphans.length > 0) break;
        victim.cli.child.kill("SIGCONT");
        await sleep(2);
      }
      await kill9(victim);
      const doneAtKill = Number(await admin.hget(key, "done"));
      assert.ok(doneAtKill < 1000, `killed mid-way (${doneAtKill} done)`);

      const [r1, r2, r3] = await Promise.all(runs);
      assert.equal(r2?.ok, false, "the killed process's call never answered");
      for (const r of [r1, r3]) {
        assert.ok(r?.ok, `a survivor's call failed: ${r && !r.ok ? String(r.error) : ""}`);
        assert.equal(r.result.status, "completed");
        assert.equal(r.result.processed, true);
        assert.equal(r.result.done, 1000);
        assert.equal(r.result.total, 1000);
      }
      const summary = await admin.hgetall(key);
      assert.equal(summary.status, "completed");
      assert.equal(Number(summary.done), 1000);
      assert.equal(Number(summary.total), 1000);
      const by = await admin.hgetall(`${key}:by`);
      assert.equal(Object.keys(by).length, 1000, "exactly 1,000 items recorded as done");
      assert.deepEqual(
        Object.keys(by)
          .map(Number)
          .sort((a, b) => a - b),
        Array.from({ length: 1000 }, (_, i) => i),
      );
      for (const index of orphans) {
        assert.ok(
          ["proc-1", "proc-3"].includes(by[index] as string),
          `item ${index}, held by the victim, finished by ${by[index]}`,
        );
      }
      const counts: Record<string, number> = {};
      for (const p of Object.values(by)) counts[p] = (counts[p] ?? 0) + 1;
      assert.equal(counts["proc-1"], r1?.ok ? r1.result.itemsProcessed : -1);
      assert.equal(counts["proc-3"], r3?.ok ? r3.result.itemsProcessed : -1);
      assert.ok((counts["proc-2"] ?? 0) > 0, "the victim did its share before dying");
      const completed = (await events(keys, "batch.completed")).filter((e) => e.payload.batchId === batchId);
      assert.equal(completed.length, 1, "batch.completed exactly once");
      assert.deepEqual(completed[0]?.payload, { batchId, total: 1000 });
    } finally {
      for (const m of group.members) await kill9(m);
    }
  });

  it("SIGSTOP of two of three: the third flags itself partitioned and does not lead; SIGCONT clears it", async () => {
    const group = await startGroup(3);
    const { keys } = group;
    const [s1, s2, s3] = group.members as [Member, Member, Member];
    try {
      const initial = await formed(group);
      s2.cli.child.kill("SIGSTOP");
      s3.cli.child.kill("SIGSTOP");

      // A probe of a stopped peer waits out its 1 s timeout: a few gossip intervals plus that.
      const partitioned = await until(
        async () => {
          const h = await health(s1.url);
          return h.cluster.partitioned && h;
        },
        "srv-1 to flag itself partitioned",
        8000,
      );
      assert.equal(partitioned.status, "degraded");
      assert.equal(partitioned.cluster.members, 3);
      assert.equal(partitioned.cluster.healthyMembers, 1);
      // The flag is up as soon as the probes answer; its event is written after the resignation,
      // a round trip or two later, so it is waited for (and counted again once the watch is over).
      const partitionEvents = async (event: string) =>
        (await events(keys, event)).filter((e) => e.source === "srv-1");
      const writtenPartitionEvents = (event: string) =>
        until(
          async () => {
            const found = await partitionEvents(event);
            return found.length > 0 && found;
          },
          `srv-1's ${event} event`,
          2000,
        );
      const detected = await writtenPartitionEvents("cluster.partition.detected");
      assert.equal(detected.length, 1);
      assert.deepEqual(detected[0]?.payload, { serverId: "srv-1", members: 3, healthy: 1 });

      // While partitioned it never leads, and once the stopped leader's term runs out nobody does.
      const watchUntil = Date.now() + LEADER_TERM_MS + 4 * TICK_MS;
      await sleep(TICK_MS);
      while (Date.now() < watchUntil) {
        const h = await health(s1.url);
        assert.equal(h.cluster.partitioned, true);
        assert.equal(h.cluster.leader, false, "a partitioned server does not lead");
        assert.notEqual((await admin.get(keys.coordination.leader))?.startsWith("srv-1|"), true);
        await sleep(100);
      }
      assert.equal(
        await admin.get(keys.coordination.leader),
        null,
        "no leader while the majority is unreachable",
      );
      assert.equal((await partitionEvents("cluster.partition.detected")).length, 1, "detected once");

      s2.cli.child.kill("SIGCONT");
      s3.cli.child.kill("SIGCONT");
      const healed = await until(
        async () => {
          const h = await health(s1.url);
          return !h.cluster.partitioned && h;
        },
        "srv-1 to clear its partition flag",
        8000,
      );
      assert.equal(healed.status, "healthy");
      const cleared = await writtenPartitionEvents("cluster.partition.cleared");
      assert.equal(cleared.length, 1);
      const rejoined = await formed(group);
      assert.ok(
        rejoined.epoch > initial.epoch,
        `a new term after the partition (${initial.epoch} → ${rejoined.epoch})`,
      );
    } finally {
      s2.cli.child.kill("SIGCONT");
      s3.cli.child.kill("SIGCONT");
      for (const m of group.members) await kill9(m);
    }
  });
});
