import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type Activity,
  firstActiveMinute,
  formatMs,
  ranked,
  slowestMethods,
} from "../../src/dashboard/model/activity.js";
import {
  boardColumns,
  filterEvents,
  filterHooks,
  filterTasks,
  tasksOf,
} from "../../src/dashboard/model/filters.js";
import { compareIds, DashboardStore, type LiveEvent } from "../../src/dashboard/model/store.js";

/**
 * The dashboard's data layer without a browser: events as the server sends them (a task
 * event's task typed as task.get answers it: docs/api.md, "Task events"), API snapshots, and
 * the view filters.
 */

let seq = 0;
const ev = (event: string, payload: Record<string, unknown>, id = `${1000 + ++seq}-0`): LiveEvent => ({
  id,
  event,
  payload,
  source: "srv-1",
  ts: Number(id.split("-")[0]),
});

const iso = (ms: number) => new Date(ms).toISOString();

/** A task as `task.*` events carry it: the shape task.get answers. */
const eventTask = (id: string, fields: Record<string, unknown> = {}) => ({
  id,
  text: `task ${id}`,
  status: "pending",
  priority: 50,
  attempts: 0,
  maxAttempts: 3,
  metadata: {},
  createdAt: iso(1000),
  updatedAt: iso(1000),
  ...fields,
});

describe("dashboard store: live events", () => {
  it("reads a task from an event and follows it through its transitions", () => {
    const s = new DashboardStore();
    s.apply(
      ev("task.created", { task: eventTask("t-1", { channel: "web", metadata: { sessionId: "abc" } }) }),
    );
    const created = s.tasks.get("t-1");
    assert.equal(created?.priority, 50);
    assert.equal(created?.channel, "web");
    assert.deepEqual(created?.metadata, { sessionId: "abc" });

    s.apply(
      ev("task.claimed", {
        workerId: "w-1",
        task: eventTask("t-1", {
          status: "in_progress",
          assignedTo: "w-1",
          attempts: 1,
          updatedAt: iso(2000),
          leaseExpiresAt: iso(32000),
        }),
      }),
    );
    s.apply(
      ev("task.completed", {
        workerId: "w-1",
        task: eventTask("t-1", {
          status: "completed",
          assignedTo: "w-1",
          result: { ok: true },
          updatedAt: iso(3000),
        }),
      }),
    );
    const done = s.tasks.get("t-1");
    assert.equal(done?.status, "completed");
    assert.deepEqual(done?.result, { ok: true });
    assert.deepEqual(
      s.history.get("t-1")?.map((h) => [h.event, h.status, h.actor]),
      [
        ["task.created", "pending", undefined],
        ["task.claimed", "in_progress", "w-1"],
        ["task.completed", "completed", "w-1"],
      ],
    );
    assert.deepEqual(s.countByStatus(), {
      pending: 0,
      in_progress: 0,
      completed: 1,
      failed: 0,
      cancelled: 0,
    });
  });

  it("names the worker that acted, not the former holder of a task cancelled by someone else", () => {
    const s = new DashboardStore();
    s.apply(ev("task.created", { task: eventTask("t-7") }));
    s.apply(
      ev("task.claimed", {
        workerId: "w-2",
        task: eventTask("t-7", { status: "in_progress", assignedTo: "w-2", updatedAt: iso(2000) }),
      }),
    );
    s.apply(
      ev("task.cancelled", {
        previousAssignment: "w-2",
        task: eventTask("t-7", { status: "cancelled", error: "obsolete", updatedAt: iso(3000) }),
      }),
    );
    assert.equal(s.tasks.get("t-7")?.error, "obsolete");
    assert.deepEqual(
      s.history.get("t-7")?.map((h) => [h.event, h.actor, h.heldBy]),
      [
        ["task.created", undefined, undefined],
        ["task.claimed", "w-2", undefined],
        ["task.cancelled", undefined, "w-2"],
      ],
    );
  });

  it("tells workers, Claude Code sessions and other agents apart, with what they registered", () => {
    const s = new DashboardStore();
    s.loadInstances([
      {
        id: "worker-host-1",
        roles: ["worker"],
        capabilities: ["python"],
        maxTasks: 4,
        metadata: { kind: "worker", command: "make test", host: "build-1", pid: 42, concurrency: 4 },
        status: "active",
        registeredAt: "2026-01-01T00:00:00.000Z",
        lastSeen: "2026-01-01T00:00:05.000Z",
        activeTasks: 2,
      },
      { id: "cc-s-1", roles: ["claude-code"], sessionId: "s-1", metadata: { cwd: "/p" }, status: "active" },
      { id: "bot", roles: ["reviewer"], status: "active" },
    ]);
    const worker = s.instances.get("worker-host-1");
    assert.equal(worker?.kind, "worker");
    assert.deepEqual(worker?.capabilities, ["python"]);
    assert.equal(worker?.metadata.command, "make test");
    assert.equal(worker?.lastSeen, Date.parse("2026-01-01T00:00:05.000Z"));
    assert.equal(worker?.activeTasks, 2);
    assert.equal(s.instances.get("cc-s-1")?.kind, "session");
    assert.equal(s.instances.get("bot")?.kind, "agent");
  });

  it("ignores an event it has already applied (a replay overlapping a reconnect)", () => {
    const s = new DashboardStore();
    const first = ev("task.created", { task: eventTask("t-1") }, "5000-0");
    s.apply(first);
    s.apply(
      ev(
        "task.cancelled",
        { task: eventTask("t-1", { status: "cancelled", updatedAt: iso(6000) }) },
        "6000-0",
      ),
    );
    s.apply(first);
    assert.equal(s.tasks.get("t-1")?.status, "cancelled");
    assert.equal(s.events.length, 2);
    assert.equal(s.lastEventId, "6000-0");
  });

  it("keeps the newer state when an older API snapshot arrives after an event", () => {
    const s = new DashboardStore();
    s.apply(ev("task.cancelled", { task: eventTask("t-1", { status: "cancelled", updatedAt: iso(9000) }) }));
    s.loadTasks([
      {
        id: "t-1",
        text: "x",
        status: "pending",
        priority: 50,
        attempts: 0,
        maxAttempts: 3,
        metadata: {},
        createdAt: new Date(1000).toISOString(),
        updatedAt: new Date(1000).toISOString(),
      },
      {
        id: "t-2",
        text: "y",
        status: "pending",
        priority: 75,
        attempts: 0,
        maxAttempts: 3,
        metadata: {},
        createdAt: new Date(1000).toISOString(),
        updatedAt: new Date(1000).toISOString(),
      },
    ]);
    assert.equal(s.tasks.get("t-1")?.status, "cancelled");
    assert.equal(s.tasks.get("t-2")?.priority, 75);
  });

  it("forgets deleted tasks, records pre-tool decisions, breakers, instances and partitions", () => {
    const s = new DashboardStore();
    s.apply(ev("task.created", { task: eventTask("t-1") }));
    s.apply(ev("task.deleted", { task: eventTask("t-1") }));
    assert.equal(s.tasks.size, 0);
    assert.equal(s.history.has("t-1"), false);

    s.apply(
      ev("hook.pre_tool.decided", {
        sessionId: "s-1",
        instanceId: "cc-s-1",
        tool: "Bash",
        summary: "rm -rf /",
        decision: "deny",
        rule: "rm-critical",
        reason: "deletes the system",
      }),
    );
    assert.deepEqual(
      s.hooks.map((h) => [h.decision, h.rule, h.summary]),
      [["deny", "rm-critical", "rm -rf /"]],
    );

    s.apply(ev("circuit.opened", { method: "task.claim", state: "open", openUntil: 99 }));
    assert.deepEqual(
      s.openBreakers().map((b) => b.method),
      ["task.claim"],
    );
    s.apply(ev("circuit.closed", { method: "task.claim", state: "closed", openUntil: 0 }));
    assert.deepEqual(s.openBreakers(), []);

    s.apply(
      ev("instance.registered", {
        instance: {
          id: "w-1",
          roles: '["worker"]',
          maxTasks: "4",
          metadata: '{"cwd":"/src"}',
          status: "active",
          lastSeen: "1234",
        },
      }),
    );
    assert.deepEqual(s.instances.get("w-1"), {
      id: "w-1",
      kind: "worker",
      roles: ["worker"],
      capabilities: [],
      metadata: { cwd: "/src" },
      maxTasks: 4,
      status: "active",
      cwd: "/src",
      lastSeen: 1234,
    });
    s.apply(ev("instance.failed", { instanceId: "w-1" }));
    assert.equal(s.instances.get("w-1")?.status, "failed");
    s.apply(ev("instance.unregistered", { instanceId: "w-1" }));
    assert.equal(s.instances.has("w-1"), false);

    s.apply(ev("cluster.partition.detected", { serverId: "srv-1" }));
    assert.equal(s.partitioned, true);
    s.apply(ev("cluster.partition.cleared", { serverId: "srv-1" }));
    assert.equal(s.partitioned, false);
    assert.equal(s.counts.get("task.created"), 1);
  });

  it("stays within its bounds: finished tasks are evicted first, events and decisions are capped", () => {
    const s = new DashboardStore({ tasks: 100, events: 50, hooks: 10, historyPerTask: 5 });
    for (let i = 1; i <= 100; i++)
      s.apply(ev("task.created", { task: eventTask(`t-${i}`, { updatedAt: iso(i) }) }));
    for (let i = 1; i <= 20; i++)
      s.apply(
        ev("task.completed", {
          task: eventTask(`t-${i}`, { status: "completed", updatedAt: iso(1000 + i) }),
        }),
      );
    s.apply(ev("task.created", { task: eventTask("t-101", { updatedAt: iso(5000) }) }));
    assert.ok(s.tasks.size <= 100);
    for (let i = 21; i <= 101; i++) assert.ok(s.tasks.has(`t-${i}`), `pending t-${i} kept`);
    assert.equal(s.tasks.has("t-1"), false, "the oldest finished task went first");

    for (let i = 0; i < 100; i++) s.apply(ev("hook.pre_tool.decided", { tool: "Bash", decision: "allow" }));
    for (let i = 0; i < 10; i++)
      s.apply(ev("task.updated", { task: eventTask("t-50", { updatedAt: iso(6000 + i) }) }));
    assert.ok(s.events.length <= 50 + 13);
    assert.ok(s.hooks.length <= 10 + 3);
    assert.ok((s.history.get("t-50")?.length ?? 0) <= 5 + 2);
  });

  it("orders stream ids numerically", () => {
    assert.ok(compareIds("9-0", "10-0") < 0);
    assert.ok(compareIds("10-2", "10-10") < 0);
    assert.equal(compareIds("7-1", "7-1"), 0);
  });
});

describe("dashboard filters", () => {
  const s = new DashboardStore();
  s.loadTasks([
    {
      id: "t-1",
      text: "Fix login",
      status: "pending",
      priority: 90,
      channel: "web",
      attempts: 0,
      maxAttempts: 3,
      metadata: {},
      createdAt: "2026-01-01T00:00:00Z",
      updatedAt: "2026-01-01T00:00:00Z",
    },
    {
      id: "t-2",
      text: "Write docs",
      description: "about LOGIN",
      status: "in_progress",
      priority: 50,
      channel: "docs",
      assignedTo: "w-1",
      attempts: 1,
      maxAttempts: 3,
      metadata: {},
      createdAt: "2026-01-01T00:00:01Z",
      updatedAt: "2026-01-01T00:00:01Z",
    },
    {
      id: "t-3",
      text: "Ship it",
      status: "pending",
      priority: 90,
      channel: "web",
      attempts: 0,
      maxAttempts: 3,
      metadata: {},
      createdAt: "2026-01-01T00:00:02Z",
      updatedAt: "2026-01-01T00:00:02Z",
    },
  ]);
  const ids = (list: { id: string }[]) => list.map((t) => t.id);

  it("filters tasks by status, channel, assignee, priority and text, in queue order", () => {
    assert.deepEqual(ids(filterTasks(s.tasks.values(), {})), ["t-1", "t-3", "t-2"]);
    assert.deepEqual(ids(filterTasks(s.tasks.values(), { status: "pending" })), ["t-1", "t-3"]);
    assert.deepEqual(ids(filterTasks(s.tasks.values(), { channel: "docs" })), ["t-2"]);
    assert.deepEqual(ids(filterTasks(s.tasks.values(), { assignee: "w-1" })), ["t-2"]);
    assert.deepEqual(ids(filterTasks(s.tasks.values(), { minPriority: 60 })), ["t-1", "t-3"]);
    assert.deepEqual(ids(filterTasks(s.tasks.values(), { text: "login" })), ["t-1", "t-2"]);
    assert.deepEqual(ids(filterTasks(s.tasks.values(), { text: "login", channel: "web" })), ["t-1"]);
  });

  it("groups the board by status with every filter applied, the status filter too", () => {
    const all = boardColumns(s.tasks.values(), { channel: "web" });
    assert.deepEqual(ids(all.pending), ["t-1", "t-3"]);
    assert.deepEqual(all.in_progress, []);
    const text = boardColumns(s.tasks.values(), { text: "login" });
    assert.deepEqual([ids(text.pending), ids(text.in_progress)], [["t-1"], ["t-2"]]);
    const inProgress = boardColumns(s.tasks.values(), { status: "in_progress" });
    assert.deepEqual([ids(inProgress.pending), ids(inProgress.in_progress)], [[], ["t-2"]]);
  });

  it("lists the tasks an instance holds now: in progress, not those it finished", () => {
    const store = new DashboardStore();
    store.loadTasks([
      { id: "t-1", text: "a", status: "in_progress", assignedTo: "w-1", createdAt: 1, updatedAt: 1 },
      { id: "t-2", text: "b", status: "completed", assignedTo: "w-1", createdAt: 2, updatedAt: 2 },
      { id: "t-3", text: "c", status: "in_progress", assignedTo: "w-2", createdAt: 3, updatedAt: 3 },
    ]);
    assert.deepEqual(ids(tasksOf(store.tasks.values(), "w-1")), ["t-1"]);
  });

  it("filters hook decisions by session (or its instance) and decision", () => {
    const hooks = [
      { id: "1-0", ts: 1, tool: "Bash", decision: "deny", sessionId: "s-1", instanceId: "cc-s-1" },
      { id: "2-0", ts: 2, tool: "Edit", decision: "allow", sessionId: "s-1", instanceId: "cc-s-1" },
      { id: "3-0", ts: 3, tool: "Bash", decision: "deny", sessionId: "s-2" },
    ];
    assert.deepEqual(
      filterHooks(hooks, { decision: "deny" }).map((h) => h.id),
      ["1-0", "3-0"],
    );
    assert.deepEqual(
      filterHooks(hooks, { session: "cc-s-1" }).map((h) => h.id),
      ["1-0", "2-0"],
    );
    assert.deepEqual(
      filterHooks(hooks, { session: "s-2", decision: "deny" }).map((h) => h.id),
      ["3-0"],
    );
  });

  it("filters events by name prefixes and payload text", () => {
    const events = [
      ev("task.created", { task: { id: "t-9" } }),
      ev("hook.pre_tool.decided", { tool: "Bash" }),
      ev("circuit.opened", { method: "x" }),
    ];
    assert.deepEqual(
      filterEvents(events, { prefix: "task., circuit." }).map((e) => e.event),
      ["task.created", "circuit.opened"],
    );
    assert.deepEqual(
      filterEvents(events, { text: "bash" }).map((e) => e.event),
      ["hook.pre_tool.decided"],
    );
  });
});

describe("dashboard activity", () => {
  const method = (name: string, calls: number, p99Ms: number | null) => ({
    method: name,
    calls,
    errors: 0,
    errorsByCode: {},
    latency: p99Ms === null ? null : { p50Ms: p99Ms / 2, p95Ms: p99Ms, p99Ms, maxMs: p99Ms },
  });

  it("names the slowest methods of the window by their p99, skipping those without calls", () => {
    const activity = {
      window: {
        methods: [method("task.create", 90, 3), method("system.health", 2, 40), method("task.get", 0, null)],
      },
    } as unknown as Activity;
    assert.deepEqual(
      slowestMethods(activity, 5).map((m) => m.method),
      ["system.health", "task.create"],
    );
    assert.deepEqual(
      slowestMethods(activity, 1).map((m) => m.method),
      ["system.health"],
    );
  });

  it("ranks counts for the bar charts, largest first, leaving out zeros", () => {
    assert.deepEqual(
      ranked([
        ["VALIDATION", 3],
        ["NOT_FOUND", 7],
        ["CONFLICT", 0],
        ["A", 3],
      ]),
      { labels: ["NOT_FOUND", "A", "VALIDATION"], values: [7, 3, 3] },
    );
  });

  it("starts the per-minute charts at the first minute with activity, showing at least a quarter hour", () => {
    const minutes = (calls: number[], completed = calls.map(() => 0)) => ({
      t: calls.map((_, i) => i * 60_000),
      calls,
      errors: calls.map(() => 0),
      p50Ms: [],
      p95Ms: [],
      p99Ms: [],
      completed,
      failed: calls.map(() => 0),
    });
    const quiet = Array.from({ length: 60 }, () => 0);
    assert.equal(firstActiveMinute(minutes(quiet), 15), 45, "nothing yet: the last 15 minutes");
    const late = quiet.map((_, i) => (i >= 55 ? 3 : 0));
    assert.equal(firstActiveMinute(minutes(late), 15), 45, "five busy minutes still show fifteen");
    const early = quiet.map((_, i) => (i === 10 ? 1 : 0));
    assert.equal(firstActiveMinute(minutes(early), 15), 10);
    const finishedOnly = quiet.map((_, i) => (i === 20 ? 1 : 0));
    assert.equal(firstActiveMinute(minutes(quiet, finishedOnly), 15), 20);
  });

  it("writes a latency with a unit a person reads at a glance", () => {
    assert.equal(formatMs(0.25), "250 µs");
    assert.equal(formatMs(4.26), "4.3 ms");
    assert.equal(formatMs(420.4), "420 ms");
    assert.equal(formatMs(4000), "4000 ms");
    assert.equal(formatMs(12_345), "12.3 s");
    assert.equal(formatMs(null), "—");
  });
});
