import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Redis } from "ioredis";
import { CallStats } from "../../src/core/metrics.js";
import { clusterSnapshot } from "../../src/domain/coordination/cluster-snapshot.js";
import { Coordination } from "../../src/domain/coordination/coordination.js";
import { Leadership } from "../../src/domain/coordination/leadership.js";
import { Membership } from "../../src/domain/coordination/membership.js";
import { EventLog } from "../../src/domain/events/event-log.js";
import { SessionStore } from "../../src/domain/sessions/session-store.js";
import { DEFAULT_QUEUE_SETTINGS, TaskQueue } from "../../src/domain/tasks/queue.js";
import { DiagnosticLists } from "../../src/storage/diagnostic-lists.js";
import { createKeys, type Keys } from "../../src/storage/keys.js";
import { connectRedis, RedisLink } from "../../src/storage/redis.js";
import { type TestRedis, uniquePrefix, useTestRedis } from "../helpers/redis.js";

/**
 * The reads and writes handlers used to make on Redis themselves, now domain functions and
 * objects of the handler context: each against a real Redis, through its public API.
 */

let server: TestRedis;
let redis: Redis;
useTestRedis((started) => ({ server, redis } = started));

async function queueOf(label: string): Promise<{ keys: Keys; tasks: TaskQueue }> {
  const keys = createKeys(uniquePrefix(label));
  const tasks = new TaskQueue(redis, keys, "test", 10_000, DEFAULT_QUEUE_SETTINGS);
  await tasks.scripts.load();
  return { keys, tasks };
}

const newTask = (text: string, channel?: string) => ({ text, priority: 50, maxAttempts: 3, channel });

describe("task queue reads", () => {
  it("taskCounts: every status, cluster-wide, zero when none", async () => {
    const { tasks } = await queueOf("counts");
    for (const text of ["a", "b", "c"]) await tasks.create(newTask(text));
    const [claimed] = await tasks.claim({ workerId: "w1", count: 1 });
    assert.ok(claimed);
    await tasks.complete(claimed.id, { workerId: "w1" });
    await tasks.claim({ workerId: "w1", count: 1 });
    assert.deepEqual(await tasks.counts(), {
      pending: 1,
      in_progress: 1,
      completed: 1,
      failed: 0,
      cancelled: 0,
    });
  });

  it("channelDepth: the tasks of one channel waiting to be claimed", async () => {
    const { tasks } = await queueOf("depth");
    await tasks.create(newTask("one", "proj"));
    await tasks.create(newTask("two", "proj"));
    await tasks.create(newTask("elsewhere", "other"));
    assert.equal(await tasks.channelDepth("proj"), 2);
    await tasks.claim({ workerId: "w1", count: 1, channel: "proj" });
    assert.equal(await tasks.channelDepth("proj"), 1, "a claimed task no longer waits");
    assert.equal(await tasks.channelDepth("none"), 0);
  });

  it("heldBy: the tasks a worker holds now, and none once it gave them back", async () => {
    const { tasks } = await queueOf("held");
    for (const text of ["a", "b", "c"]) await tasks.create(newTask(text));
    const claimed = await tasks.claim({ workerId: "w1", count: 2 });
    assert.deepEqual((await tasks.heldBy("w1")).sort(), claimed.map((t) => t.id).sort());
    assert.deepEqual(await tasks.heldBy("w2"), []);
    for (const t of claimed) await tasks.release(t.id, { workerId: "w1" });
    assert.deepEqual(await tasks.heldBy("w1"), []);
  });
});

describe("cluster reads", () => {
  it("clusterSnapshot: tasks by status and each member's record, its view parsed, the leader marked", async () => {
    const { keys, tasks } = await queueOf("snap");
    await tasks.create(newTask("waiting"));
    const a = new Membership(redis, keys.coordination, "srv-a", "http://127.0.0.1:1", 60_000);
    const b = new Membership(redis, keys.coordination, "srv-b", "http://127.0.0.1:2", 60_000);
    const peer = { id: "srv-b", url: "http://127.0.0.1:2", healthy: true, lastHealthyAt: 5 };
    await a.beat({ members: 2, healthy: 2, partitioned: false, peers: [peer] }, { version: "x" });
    await b.beat({ members: 2, healthy: 1, partitioned: true, peers: [] }, {});
    const leadership = new Leadership(tasks.scripts, keys.coordination, "srv-a", 60_000);
    await leadership.tick();

    const snapshot = await clusterSnapshot(tasks, {
      servers: () => a.describe(),
      leadership: () => leadership.state,
    });
    assert.equal(snapshot.tasksByStatus.pending, 1);
    assert.equal(snapshot.tasksByStatus.completed, 0);
    const byId = new Map(snapshot.servers.map((s) => [s.id, s]));
    assert.deepEqual([...byId.keys()].sort(), ["srv-a", "srv-b"]);
    assert.deepEqual(byId.get("srv-a"), {
      id: "srv-a",
      url: "http://127.0.0.1:1",
      partitioned: "0",
      view: [peer],
      version: "x",
      leader: true,
    });
    assert.equal(byId.get("srv-b")?.leader, false);
    assert.equal(byId.get("srv-b")?.partitioned, "1");
    assert.deepEqual(byId.get("srv-b")?.view, []);
  });

  it("publishedStats: what each server published, null for one that has not or has left", async () => {
    const keys = createKeys(uniquePrefix("pub"));
    const a = new Membership(redis, keys.coordination, "srv-a", "http://127.0.0.1:1", 60_000);
    const stats = new CallStats();
    stats.record("task.create", 2);
    stats.record("task.claim", 3, "NOT_FOUND");
    await a.publishStats(stats.export(), 60_000);
    assert.deepEqual(await a.publishedStats(["srv-a", "srv-b"]), [stats.export(), null]);
    assert.deepEqual(await a.publishedStats([]), []);
    await a.leave();
    assert.deepEqual(await a.publishedStats(["srv-a"]), [null], "leaving withdraws the statistics");
  });
});

describe("event log", () => {
  it("recent: the newest events first, as many as asked; none for 0", async () => {
    const keys = createKeys(uniquePrefix("events"));
    const log = new EventLog(redis, keys, "srv-a", 1000);
    for (const n of [1, 2, 3]) await log.emit("test.tick", { n });
    const recent = await log.recent(2);
    assert.deepEqual(
      recent.map((e) => [e.event, e.payload, e.source]),
      [
        ["test.tick", { n: 3 }, "srv-a"],
        ["test.tick", { n: 2 }, "srv-a"],
      ],
    );
    assert.deepEqual(await log.recent(0), []);
  });
});

describe("session store", () => {
  it("an inbox: pushed messages are read oldest first, counted, and drained once", async () => {
    const sessions = new SessionStore(
      redis,
      createKeys(uniquePrefix("inbox")),
      (await queueOf("inboxq")).tasks,
    );
    const sent = await sessions.pushInbox("s1", { from: "s2", kind: "message", text: "one" }, "k1");
    assert.equal(sent.delivered, true);
    assert.equal(
      (await sessions.pushInbox("s1", { from: null, kind: "x", text: "again" }, "k1")).delivered,
      false,
    );
    await sessions.pushInbox("s1", { from: null, kind: "message", text: "two" });
    assert.equal(await sessions.inboxSize("s1"), 2);
    assert.deepEqual(
      (await sessions.readInbox("s1", false)).map((m) => m.text),
      ["one", "two"],
    );
    assert.equal((await sessions.readInbox("s1", true))[0]?.id, sent.message.id);
    assert.deepEqual(await sessions.readInbox("s1", true), [], "drained");
    assert.equal(await sessions.inboxSize("s1"), 0);
  });

  it("roles: one master per project; only the master steps down", async () => {
    const sessions = new SessionStore(
      redis,
      createKeys(uniquePrefix("roles")),
      (await queueOf("rolesq")).tasks,
    );
    assert.equal(await sessions.masterOf("proj"), null);
    assert.equal(await sessions.setRole("proj", "s1", "master"), null);
    assert.equal(await sessions.setRole("proj", "s2", "master"), "s1", "the previous master");
    assert.equal(await sessions.setRole("proj", "s1", "member"), "s2");
    assert.equal(await sessions.masterOf("proj"), "s2", "another session's step-down changes nothing");
    await sessions.setRole("proj", "s2", "member");
    assert.equal(await sessions.masterOf("proj"), null);
  });

  it("todos: a TodoWrite becomes tasks the session holds; the event names its role", async () => {
    const { keys, tasks } = await queueOf("todos");
    const sessions = new SessionStore(redis, keys, tasks);
    await sessions.setRole("proj", "s1", "master");
    const todos = [
      { content: "write the test", status: "in_progress" as const },
      { content: "run it", status: "pending" as const },
    ];
    const list = { holder: "cc-s1", sessionId: "s1", channel: "proj" };
    const result = await sessions.syncTodos(list, todos);
    assert.deepEqual(
      result.todos.map((t) => t.action),
      ["created", "created"],
    );
    assert.deepEqual(await tasks.heldBy("cc-s1"), [result.todos[0]?.taskId]);
    assert.equal(await tasks.channelDepth("proj"), 1);
    const event = await sessions.todoWriteEvent(
      { sessionId: "s1", instanceId: "cc-s1", cwd: "/work/proj" },
      todos,
      result,
    );
    assert.equal(event.project, "proj");
    assert.equal(event.role, "master");
    assert.equal(event.count, 2);
  });
});

describe("coordination", () => {
  it("vote: the first value with a majority of the given total is the decision", async () => {
    const { keys, tasks } = await queueOf("vote");
    const coordination = new Coordination(tasks.scripts, keys.coordination);
    const vote = (voter: string, value: string) =>
      coordination.vote({ decision: "d1", voter, value, total: 3, liveSince: 0, ttlSec: 60 });
    assert.equal((await vote("i1", "yes")).quorumReached, false);
    const second = await vote("i2", "yes");
    assert.equal(second.quorumReached, true);
    assert.equal(second.finalDecision, "yes");
    assert.equal(second.majority, 2);
  });

  it("processBatch: a lone processor processes every item once and completes the batch", async () => {
    const { keys, tasks } = await queueOf("batch");
    const coordination = new Coordination(tasks.scripts, keys.coordination);
    const seen: [number, unknown][] = [];
    const progress = await coordination.processBatch(
      { batchId: "b1", processorId: "p1", items: ["x", "y", "z"] },
      async (item, index) => {
        seen.push([index, item]);
      },
      { chunk: 2, leaseMs: 10_000, ttlSec: 60 },
      new AbortController().signal,
    );
    assert.deepEqual(progress, { status: "completed", done: 3, total: 3, processedByMe: 3 });
    assert.deepEqual(
      seen.sort((p, q) => p[0] - q[0]),
      [
        [0, "x"],
        [1, "y"],
        [2, "z"],
      ],
    );
  });
});

describe("storage services", () => {
  it("DiagnosticLists.append: appends to the named list, answering its length", async () => {
    const lists = new DiagnosticLists(redis, createKeys(uniquePrefix("diag")));
    assert.equal(await lists.append("l1", "a"), 1);
    assert.equal(await lists.append("l1", "b"), 2);
    assert.equal(await lists.append("l2", "a"), 1, "each list on its own");
  });

  it("RedisLink.ping: resolves with a round-trip time while Redis answers, rejects once it is gone", async () => {
    const own = await connectRedis(server.url, "probe-test");
    const link = new RedisLink(own, { warn: () => undefined, info: () => undefined });
    try {
      const ms = await link.ping();
      assert.ok(Number.isFinite(ms) && ms >= 0);
      own.disconnect();
      await assert.rejects(link.ping());
    } finally {
      link.stop();
      own.disconnect();
    }
  });
});
