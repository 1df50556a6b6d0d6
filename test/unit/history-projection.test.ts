import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DomainEvent } from "../../src/contract/events.js";
import type { Task } from "../../src/contract/tasks.js";
import type { AuditRecord } from "../../src/domain/audit/record.js";
import { auditRecordOf, auditRowOf, taskBatchOf, taskOf } from "../../src/domain/history/projection.js";

/**
 * The history's projection between the streams' objects and the tables' rows, without a
 * database; persistence.test.ts and audit.test.ts write and read the rows on PGlite and PostgreSQL.
 */

const TS = 1_733_600_000_000;
const AT = new Date(TS).toISOString();

const task = (status: Task["status"], extra: Partial<Task> = {}): Task => ({
  id: "t-12",
  text: "x",
  priority: 50,
  status,
  attempts: 0,
  maxAttempts: 3,
  metadata: { k: "v" },
  createdAt: AT,
  updatedAt: AT,
  ...extra,
});

const event = (seq: number, name: string, payload: Record<string, unknown>): DomainEvent => ({
  id: `${TS}-${seq}`,
  event: name,
  payload,
  source: "srv-1",
  ts: TS,
});

describe("taskBatchOf", () => {
  it("makes a history row per task event and one task row per task, from its latest event in the batch", () => {
    const batch = taskBatchOf([
      event(0, "task.created", { task: task("pending") }),
      event(1, "task.claimed", {
        task: task("in_progress", { assignedTo: "w-1" }),
        workerId: "w-1",
        token: 1,
      }),
    ]);
    assert.deepEqual(batch.events, [
      {
        event_ms: TS,
        event_seq: 0,
        task_id: "t-12",
        event: "task.created",
        status: "pending",
        actor: null,
        source: "srv-1",
        at: AT,
        details: {},
      },
      {
        event_ms: TS,
        event_seq: 1,
        task_id: "t-12",
        event: "task.claimed",
        status: "in_progress",
        actor: "w-1",
        source: "srv-1",
        at: AT,
        details: { workerId: "w-1", token: 1 },
      },
    ]);
    assert.deepEqual(batch.tasks, [
      {
        id: "t-12",
        seq: 12,
        text: "x",
        description: null,
        priority: 50,
        status: "in_progress",
        channel: null,
        assigned_to: "w-1",
        attempts: 0,
        max_attempts: 3,
        metadata: { k: "v" },
        result: null,
        error: null,
        dead_lettered: false,
        created_at: AT,
        updated_at: AT,
        claimed_at: null,
        completed_at: null,
        deleted: false,
        event_ms: TS,
        event_seq: 1,
      },
    ]);
    assert.deepEqual(batch.decisions, []);
  });

  it("marks a deleted task's row, and keeps a falsy result as a value", () => {
    const [row] = taskBatchOf([event(3, "task.deleted", { task: task("completed", { result: 0 }) })]).tasks;
    assert.equal(row?.deleted, true);
    assert.equal(row?.result, 0);
  });

  it("records pre-tool decisions, naming what the event leaves out", () => {
    const { decisions } = taskBatchOf([
      event(4, "hook.pre_tool.decided", {
        sessionId: "s-1",
        decision: "deny",
        rule: "r",
        links: [{ name: "p" }],
      }),
      event(5, "hook.pre_tool.decided", { tool: 7, links: "not a list" }),
    ]);
    assert.deepEqual(decisions, [
      {
        event_ms: TS,
        event_seq: 4,
        session_id: "s-1",
        instance_id: null,
        tool: "unknown",
        input_digest: "",
        summary: null,
        decision: "deny",
        rule: "r",
        reason: null,
        cwd: null,
        at: AT,
        links: [{ name: "p" }],
      },
      {
        event_ms: TS,
        event_seq: 5,
        session_id: null,
        instance_id: null,
        tool: "unknown",
        input_digest: "",
        summary: null,
        decision: "unknown",
        rule: null,
        reason: null,
        cwd: null,
        at: AT,
        links: null,
      },
    ]);
  });

  it("leaves out events that are not history: other events, task events without a task", () => {
    const batch = taskBatchOf([
      event(6, "instance.registered", { task: task("pending") }),
      event(7, "task.created", {}),
    ]);
    assert.deepEqual(batch, { decisions: [], events: [], tasks: [] });
  });
});

describe("taskOf", () => {
  it("answers a stored task as task.get does: absent fields left out, times in ISO 8601", () => {
    const row = {
      id: "t-12",
      seq: 12,
      text: "x",
      description: null,
      priority: 50,
      status: "completed",
      channel: "ch",
      assignedTo: null,
      attempts: 1,
      maxAttempts: 3,
      metadata: {},
      result: { ok: true },
      error: null,
      deadLettered: false,
      createdAt: "2024-12-07 19:33:20+00",
      updatedAt: "2024-12-07 19:33:21+00",
      claimedAt: null,
      completedAt: "2024-12-07 19:33:21+00",
      deleted: false,
      eventMs: TS,
      eventSeq: 9,
    };
    assert.deepEqual(taskOf(row), {
      id: "t-12",
      text: "x",
      priority: 50,
      status: "completed",
      channel: "ch",
      attempts: 1,
      maxAttempts: 3,
      metadata: {},
      result: { ok: true },
      createdAt: "2024-12-07T19:33:20.000Z",
      updatedAt: "2024-12-07T19:33:21.000Z",
      completedAt: "2024-12-07T19:33:21.000Z",
    });
  });
});

describe("audit rows", () => {
  const record: AuditRecord = {
    id: `${TS}-2`,
    at: AT,
    method: "task.create",
    transport: "http",
    outcome: "ok",
    target: "t-12",
    sessionId: "s-1",
    instanceId: null,
    remoteAddress: "127.0.0.1",
    requestId: "r-1",
    server: "srv-1",
    durationMs: 1.5,
  };

  it("keys a record's row by its stream id, and reads the row back as the same record", () => {
    const row = auditRowOf(record);
    assert.deepEqual([row.event_ms, row.event_seq, row.session_id, row.duration_ms], [TS, 2, "s-1", 1.5]);
    const stored = {
      eventMs: row.event_ms,
      eventSeq: row.event_seq,
      at: "2024-12-07 19:33:20+00",
      method: row.method,
      transport: row.transport,
      outcome: row.outcome,
      target: row.target,
      sessionId: row.session_id,
      instanceId: row.instance_id,
      remoteAddress: row.remote_address,
      requestId: row.request_id,
      server: row.server,
      durationMs: row.duration_ms,
    };
    assert.deepEqual(auditRecordOf(stored), record);
  });
});
