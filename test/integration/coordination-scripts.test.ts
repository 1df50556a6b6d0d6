import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Redis } from "ioredis";
import type { DomainEvent } from "../../src/contract/events.js";
import { AppError } from "../../src/core/errors.js";
import { type BatchSettings, processBatch } from "../../src/domain/coordination/batch.js";
import { InstanceRegistry } from "../../src/domain/coordination/instances.js";
import { Leadership } from "../../src/domain/coordination/leadership.js";
import { castVote } from "../../src/domain/coordination/quorum.js";
import { parseEventEntry } from "../../src/domain/events/event-log.js";
import { TaskQueue } from "../../src/domain/tasks/queue.js";
import { createKeys, type Keys } from "../../src/storage/keys.js";
import { uniquePrefix, useTestRedis } from "../helpers/redis.js";

/**
 * The coordination scripts other than the task queue's, each through the domain API that runs
 * it, against a real Redis: the return codes in each script's header, refusals included
 * (acquireLeadership-1.lua, claimBatchItems-1.lua, completeBatchItems-1.lua,
 * registerInstance-1.lua, heartbeatInstance-1.lua, unregisterInstance-1.lua, quorumVote-1.lua).
 */

let redis: Redis;
useTestRedis((started) => ({ redis } = started));

const SOURCE = "coord-test";
const HEARTBEAT_TIMEOUT_MS = 60_000;

/** A fresh key prefix, its task queue (whose scripts and keys the domain functions take) and instances. */
function fixture() {
  const keys = createKeys(uniquePrefix("coord"));
  const queue = new TaskQueue(redis, keys, SOURCE, 10_000);
  const registry = new InstanceRegistry(redis, queue.q, queue.scripts, HEARTBEAT_TIMEOUT_MS);
  return { keys, queue, registry };
}

async function events(keys: Keys, name: string): Promise<DomainEvent[]> {
  return (await redis.xrange(keys.events(), "-", "+"))
    .flatMap((entry) => parseEventEntry(entry) ?? [])
    .filter((e) => e.event === name);
}

const isNotFound = (err: unknown) => err instanceof AppError && err.code === "NOT_FOUND";

describe("acquireLeadership", () => {
  it("{epoch, 1} to the one that takes or extends the term; {epoch, 0, holder} to the others", async () => {
    const { queue } = fixture();
    const a = new Leadership(queue.scripts, queue.q, "a", 60_000);
    const b = new Leadership(queue.scripts, queue.q, "b", 60_000);
    assert.deepEqual(await a.tick(), { leading: true, epoch: 1, token: "a|1", leaderId: "a" });
    assert.deepEqual(await b.tick(), { leading: false, epoch: 1, token: "", leaderId: "a" });
    assert.deepEqual(await a.tick(), { leading: true, epoch: 1, token: "a|1", leaderId: "a" }, "extended");
  });

  it("a new term of the same candidate gets a new epoch: the counter only grows", async () => {
    const { keys, queue } = fixture();
    const a = new Leadership(queue.scripts, queue.q, "a", 60_000);
    await a.tick();
    await a.resign(redis);
    assert.deepEqual(await a.tick(), { leading: true, epoch: 2, token: "a|2", leaderId: "a" });
    assert.deepEqual(
      (await events(keys, "leader.elected")).map((e) => e.payload),
      [
        { leaderId: "a", epoch: 1 },
        { leaderId: "a", epoch: 2 },
      ],
    );
  });
});

describe("registerInstance", () => {
  it("{registeredAt, 0} for a new instance: its record is active, with what it announced", async () => {
    const { keys, registry } = fixture();
    const before = Date.now();
    const answer = await registry.register({
      id: "agent-1",
      roles: ["worker"],
      capabilities: ["ts"],
      maxTasks: 3,
      metadata: { host: "h1" },
      autoAssign: true,
    });
    assert.equal(answer.instanceId, "agent-1");
    assert.equal(answer.reregistered, false);
    assert.ok(Date.parse(answer.registeredAt) >= before - 1000, answer.registeredAt);
    const instance = await registry.get("agent-1");
    assert.ok(instance);
    assert.equal(instance.status, "active");
    assert.deepEqual(
      {
        roles: instance.roles,
        capabilities: instance.capabilities,
        maxTasks: instance.maxTasks,
        metadata: instance.metadata,
        autoAssign: instance.autoAssign,
        registeredAt: instance.registeredAt,
      },
      {
        roles: ["worker"],
        capabilities: ["ts"],
        maxTasks: 3,
        metadata: { host: "h1" },
        autoAssign: true,
        registeredAt: answer.registeredAt,
      },
    );
    assert.equal(await registry.liveCount(), 1);
    const [registered] = await events(keys, "instance.registered");
    assert.equal(registered?.payload.reregistered, false);
  });

  it("{registeredAt, 1} when an active instance registers again: the record is replaced, registeredAt kept", async () => {
    const { keys, registry } = fixture();
    const first = await registry.register({ id: "agent-1", roles: ["worker"], capabilities: ["ts"] });
    const again = await registry.register({ id: "agent-1", roles: ["reviewer"] });
    assert.equal(again.reregistered, true);
    assert.equal(again.registeredAt, first.registeredAt);
    const instance = await registry.get("agent-1");
    assert.deepEqual([instance?.roles, instance?.capabilities], [["reviewer"], []], "replaced as a whole");
    assert.deepEqual(
      (await events(keys, "instance.registered")).map((e) => e.payload.reregistered),
      [false, true],
    );
    assert.equal((await registry.list()).length, 1, "one instance under its id");
  });
});

describe("heartbeatInstance", () => {
  it("1 for an active instance: its last heartbeat, status text and load are updated", async () => {
    const { registry } = fixture();
    await registry.register({ id: "agent-1", roles: ["worker"] });
    assert.equal(await registry.heartbeat("agent-1", "busy", { cpu: 0.5 }), true);
    const instance = await registry.get("agent-1");
    assert.equal(instance?.statusText, "busy");
    assert.deepEqual(instance?.load, { cpu: 0.5 });
  });

  it("0 for an unknown instance: it must register, and no record is made", async () => {
    const { registry } = fixture();
    assert.equal(await registry.heartbeat("nobody"), false);
    assert.equal(await registry.get("nobody"), null);
    assert.equal(await registry.liveCount(), 0);
  });

  it("0 for an unregistered instance: it is not live again until it registers", async () => {
    const { registry } = fixture();
    await registry.register({ id: "agent-1", roles: ["worker"] });
    await registry.unregister("agent-1");
    assert.equal(await registry.heartbeat("agent-1"), false);
    assert.equal((await registry.get("agent-1"))?.status, "unregistered");
    assert.equal(await registry.liveCount(), 0);
  });
});

describe("unregisterInstance", () => {
  it("{'OK', released}: the tasks it held go back to pending, its record stays as unregistered", async () => {
    const { keys, queue, registry } = fixture();
    await registry.register({ id: "agent-1", roles: ["worker"] });
    const { task } = await queue.create({ text: "held", priority: 50, maxAttempts: 3 });
    assert.equal((await queue.claim({ workerId: "agent-1", count: 1 })).length, 1);

    assert.equal(await registry.unregister("agent-1"), 1);
    const released = await queue.get(task.id);
    assert.equal(released?.status, "pending");
    const instance = await registry.get("agent-1");
    assert.equal(instance?.status, "unregistered");
    assert.equal(instance?.activeTasks, 0);
    assert.equal(await registry.liveCount(), 0);
    assert.deepEqual(
      (await events(keys, "instance.unregistered")).map((e) => e.payload),
      [{ instanceId: "agent-1", releasedTasks: 1 }],
    );
  });

  it("{'NOT_FOUND'} for an unknown instance: NOT_FOUND, and no event", async () => {
    const { keys, registry } = fixture();
    await assert.rejects(registry.unregister("nobody"), isNotFound);
    assert.deepEqual(await events(keys, "instance.unregistered"), []);
  });

  it("an unregistered instance that registers again is new: reregistered 0", async () => {
    const { registry } = fixture();
    await registry.register({ id: "agent-1", roles: ["worker"] });
    await registry.unregister("agent-1");
    const again = await registry.register({ id: "agent-1", roles: ["worker"] });
    assert.equal(again.reregistered, false);
    assert.equal((await registry.get("agent-1"))?.status, "active");
  });
});

describe("quorumVote", () => {
  const vote = (queue: TaskQueue, voter: string, value: string, total = 3, liveSince = 0) =>
    castVote(queue.scripts, queue.q, { decision: "deploy", voter, value, total, liveSince, ttlSec: 60 });

  it("the first value with a majority is the decision, announced once; later votes do not change it", async () => {
    const { keys, queue } = fixture();
    assert.deepEqual(await vote(queue, "a", "yes"), {
      quorumReached: false,
      finalDecision: null,
      voteCount: 1,
      votesCast: 1,
      totalInstances: 3,
      majority: 2,
    });
    assert.deepEqual(await vote(queue, "b", "no"), {
      quorumReached: false,
      finalDecision: null,
      voteCount: 1,
      votesCast: 2,
      totalInstances: 3,
      majority: 2,
    });
    assert.deepEqual(await vote(queue, "c", "no"), {
      quorumReached: true,
      finalDecision: "no",
      voteCount: 2,
      votesCast: 3,
      totalInstances: 3,
      majority: 2,
    });
    const late = await vote(queue, "d", "yes"); // yes has a majority now too, but too late
    assert.deepEqual(
      [late.finalDecision, late.quorumReached, late.voteCount],
      ["no", true, 2],
      "decided once",
    );
    assert.deepEqual(
      (await events(keys, "quorum.decision.made")).map((e) => e.payload),
      [{ decision: "deploy", value: "no", votes: 2, total: 3 }],
    );
  });

  it("one vote per voter: a second vote replaces the first and is not counted twice", async () => {
    const { queue } = fixture();
    await vote(queue, "a", "yes");
    const again = await vote(queue, "a", "yes");
    assert.deepEqual([again.voteCount, again.votesCast, again.quorumReached], [1, 1, false]);
    const changed = await vote(queue, "a", "no");
    assert.deepEqual([changed.voteCount, changed.votesCast, changed.quorumReached], [1, 1, false]);
    assert.equal((await vote(queue, "b", "yes")).voteCount, 1, "a's yes was replaced");
  });

  it("total 0 counts the live instances: heartbeats newer than the cutoff", async () => {
    const { queue, registry } = fixture();
    for (const id of ["a", "b", "c", "d"]) await registry.register({ id, roles: ["voter"] });
    const now = Date.now();
    const outcome = await vote(queue, "a", "yes", 0, registry.liveSince(now));
    assert.deepEqual([outcome.totalInstances, outcome.majority], [4, 3]);
    const none = await castVote(queue.scripts, queue.q, {
      decision: "later",
      voter: "a",
      value: "yes",
      total: 0,
      liveSince: now + HEARTBEAT_TIMEOUT_MS, // every heartbeat is older than this cutoff
      ttlSec: 60,
    });
    assert.deepEqual([none.totalInstances, none.majority, none.quorumReached], [0, 1, true]);
  });
});

describe("claimBatchItems and completeBatchItems", () => {
  const SETTINGS = { chunk: 2, leaseMs: 60_000, ttlSec: 60 };
  const never = new AbortController().signal;

  /**
   * A processor of batch b1 (items "x" and "y" when it creates the batch): `holding` resolves
   * once it holds a chunk, and it stalls on its first item until `resume()`; `seen` are the items
   * it processed, `result` its processBatch answer.
   */
  function stalledProcessor(queue: TaskQueue, processorId: string, settings: BatchSettings, signal = never) {
    let holds!: () => void;
    const holding = new Promise<void>((resolve) => {
      holds = resolve;
    });
    let resume!: () => void;
    const stalled = new Promise<void>((resolve) => {
      resume = resolve;
    });
    const seen: unknown[] = [];
    const result = processBatch(
      queue.scripts,
      queue.q,
      { batchId: "b1", processorId, items: ["x", "y"] },
      async (item) => {
        seen.push(item);
        holds();
        await stalled;
      },
      settings,
      signal,
    );
    return { holding, resume, seen, result };
  }

  it("one processor takes every item in chunks and completes the batch, announced once", async () => {
    const { keys, queue } = fixture();
    const seen: [unknown, number][] = [];
    const result = await processBatch(
      queue.scripts,
      queue.q,
      { batchId: "b1", processorId: "p1", items: [{ n: 0 }, { n: 1 }, { n: 2 }] },
      async (item, index) => {
        seen.push([item, index]);
      },
      SETTINGS,
      never,
    );
    assert.deepEqual(result, { status: "completed", done: 3, total: 3, processedByMe: 3 });
    assert.deepEqual(seen, [
      [{ n: 0 }, 0],
      [{ n: 1 }, 1],
      [{ n: 2 }, 2],
    ]);
    assert.deepEqual(
      (await events(keys, "batch.completed")).map((e) => e.payload),
      [{ batchId: "b1", total: 3 }],
    );
  });

  it("the first call creates the batch: a later call's items are ignored, and a completed batch gives nothing", async () => {
    const { keys, queue } = fixture();
    const run = (processorId: string, items: unknown[], seen: unknown[]) =>
      processBatch(
        queue.scripts,
        queue.q,
        { batchId: "b1", processorId, items },
        async (item) => {
          seen.push(item);
        },
        SETTINGS,
        never,
      );
    const first: unknown[] = [];
    await run("p1", ["x", "y"], first);
    const second: unknown[] = [];
    assert.deepEqual(await run("p2", ["other", "items", "here"], second), {
      status: "completed",
      done: 2,
      total: 2,
      processedByMe: 0,
    });
    assert.deepEqual([first, second], [["x", "y"], []]);
    assert.equal((await events(keys, "batch.completed")).length, 1);
  });

  it("an empty batch is completed at once", async () => {
    const { queue } = fixture();
    const result = await processBatch(
      queue.scripts,
      queue.q,
      { batchId: "empty", processorId: "p1", items: [] },
      async () => assert.fail("no item to process"),
      SETTINGS,
      never,
    );
    assert.deepEqual(result, { status: "completed", done: 0, total: 0, processedByMe: 0 });
  });

  it("items whose lease expired go to another processor; the first one's late report counts none of them", async () => {
    const { keys, queue } = fixture();
    // p1's lease runs out while it stalls; p2's outlasts p1's report (p2 retries every lease / 4)
    const p1 = stalledProcessor(queue, "p1", { ...SETTINGS, leaseMs: 200 }, AbortSignal.abort());
    await p1.holding;
    const p2 = stalledProcessor(queue, "p2", { ...SETTINGS, leaseMs: 4000 });
    await p2.holding;
    p1.resume(); // p1 reports both items done while p2 holds them; aborted, it then stops
    assert.deepEqual(
      await p1.result,
      { status: "running", done: 0, total: 2, processedByMe: 0 },
      "p1 no longer held them",
    );
    p2.resume();
    assert.deepEqual(await p2.result, { status: "completed", done: 2, total: 2, processedByMe: 2 });
    assert.deepEqual(p2.seen.sort(), ["x", "y"], "both, in no documented order");
    assert.deepEqual(
      (await events(keys, "batch.completed")).map((e) => e.payload),
      [{ batchId: "b1", total: 2 }],
    );
  });

  it("an aborted processor stops while another holds the remaining items: the batch still running", async () => {
    const { queue } = fixture();
    const holder = stalledProcessor(queue, "p1", SETTINGS);
    await holder.holding;
    const idle = await processBatch(
      queue.scripts,
      queue.q,
      { batchId: "b1", processorId: "p2", items: [] },
      async () => assert.fail("p1 holds every item"),
      SETTINGS,
      AbortSignal.abort(),
    );
    assert.deepEqual(idle, { status: "running", done: 0, total: 2, processedByMe: 0 });
    holder.resume();
    assert.deepEqual(await holder.result, { status: "completed", done: 2, total: 2, processedByMe: 2 });
  });
});
