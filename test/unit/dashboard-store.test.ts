import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { boardColumns, filterEvents, filterHooks, filterTasks } from "../../src/dashboard/model/filters.js";
import { readMetrics } from "../../src/dashboard/model/metrics-text.js";
import { polylinePoints, rate } from "../../src/dashboard/model/series.js";
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
      roles: ["worker"],
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

  it("groups the board by status whatever the status filter says", () => {
    const columns = boardColumns(s.tasks.values(), { status: "completed", channel: "web" });
    assert.deepEqual(ids(columns.pending), ["t-1", "t-3"]);
    assert.deepEqual(columns.in_progress, []);
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

describe("dashboard metrics", () => {
  it("reads calls, errors by code, quantiles per method and queue depth from /metrics text", () => {
    const text = [
      "# TYPE claudebench_calls_total counter",
      'claudebench_calls_total{method="task.create"} 10',
      'claudebench_calls_total{method="task.get"} 4',
      'claudebench_call_errors_total{method="task.get",code="NOT_FOUND"} 2',
      'claudebench_call_duration_seconds_bucket{method="task.create",le="0.001"} 0',
      'claudebench_call_duration_seconds_bucket{method="task.create",le="0.01"} 10',
      'claudebench_call_duration_seconds_bucket{method="task.create",le="+Inf"} 10',
      "claudebench_queue_pending 7",
    ].join("\n");
    const r = readMetrics(text);
    assert.equal(r.calls, 14);
    assert.equal(r.errors, 2);
    assert.deepEqual(r.errorsByCode, { NOT_FOUND: 2 });
    assert.equal(r.queuePending, 7);
    const create = r.methods.find((m) => m.method === "task.create");
    assert.ok(Math.abs((create?.p50 ?? 0) - 5.5) < 1e-9, "halfway through the 1..10 ms bucket");
    assert.equal(r.methods.find((m) => m.method === "task.get")?.p50, undefined);
  });

  it("turns counters into rates (a reset starts over) and values into chart points", () => {
    assert.equal(rate(10, 30, 2), 10);
    assert.equal(rate(100, 5, 1), 5);
    assert.equal(polylinePoints([0, 5, 10], 100, 10), "0,10 50,5 100,0");
    assert.equal(polylinePoints([], 100, 10), "");
  });
});
