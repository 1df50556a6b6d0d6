import type { DomainEvent } from "../../contract/events.js";
import type { Task, TaskStatus } from "../../contract/tasks.js";
import type {
  AuditRow,
  HookDecisionRow,
  StoredAudit,
  StoredTask,
  TaskBatch,
  TaskEventRow,
  TaskRow,
} from "../../storage/db/history-tables.js";
import type { AuditRecord } from "../audit/record.js";
import { seqOf } from "../tasks/model.js";

/**
 * The history's projection: what the streams carry (task events, pre-tool decisions, audit
 * records) as the rows of its tables, and the rows back as what the API answers. Each row is
 * keyed by its stream entry's id, (event_ms, event_seq), which makes writing it idempotent.
 */

const streamIdParts = (id: string): [number, number] => {
  const dash = id.indexOf("-");
  return [Number(id.slice(0, dash)), Number(id.slice(dash + 1))];
};

const text = (v: unknown) => (typeof v === "string" ? v : null);

/** An audited pre-tool decision (event `hook.pre_tool.decided`) as a row. */
function hookDecisionRow(e: DomainEvent): HookDecisionRow {
  const [event_ms, event_seq] = streamIdParts(e.id);
  const p = e.payload;
  return {
    event_ms,
    event_seq,
    session_id: text(p.sessionId),
    instance_id: text(p.instanceId),
    tool: text(p.tool) ?? "unknown",
    input_digest: text(p.inputDigest) ?? "",
    summary: text(p.summary),
    decision: text(p.decision) ?? "unknown",
    rule: text(p.rule),
    reason: text(p.reason),
    cwd: text(p.cwd),
    at: new Date(e.ts).toISOString(),
    links: Array.isArray(p.links) ? p.links : null,
  };
}

/** A task's state after the event with this id (`deleted`: it was a task.deleted). */
function taskRow(task: Task, deleted: boolean, [event_ms, event_seq]: [number, number]): TaskRow {
  return {
    id: task.id,
    seq: seqOf(task.id),
    text: task.text,
    description: task.description ?? null,
    priority: task.priority,
    status: task.status,
    channel: task.channel ?? null,
    assigned_to: task.assignedTo ?? null,
    attempts: task.attempts,
    max_attempts: task.maxAttempts,
    metadata: task.metadata,
    result: task.result === undefined ? null : task.result,
    error: task.error ?? null,
    dead_lettered: task.deadLettered ?? false,
    created_at: task.createdAt,
    updated_at: task.updatedAt,
    claimed_at: task.claimedAt ?? null,
    completed_at: task.completedAt ?? null,
    deleted,
    event_ms,
    event_seq,
  };
}

/**
 * A batch of the event stream as rows: each task event (its payload but the task, as details),
 * each task's latest state in the batch, each pre-tool decision. Other events are not history.
 */
export function taskBatchOf(events: readonly DomainEvent[]): TaskBatch {
  const history: TaskEventRow[] = [];
  const latest = new Map<string, TaskRow>();
  const decisions: HookDecisionRow[] = [];
  for (const e of events) {
    if (e.event === "hook.pre_tool.decided") {
      decisions.push(hookDecisionRow(e));
      continue;
    }
    // the typed task (parseEventEntry reads the scripts' hash into the Task task.get answers)
    const task = e.payload.task as Task | undefined;
    if (!e.event.startsWith("task.") || !task?.id) continue;
    const streamId = streamIdParts(e.id);
    const { task: _snapshot, ...details } = e.payload;
    history.push({
      event_ms: streamId[0],
      event_seq: streamId[1],
      task_id: task.id,
      event: e.event,
      status: task.status,
      actor: typeof e.payload.workerId === "string" ? e.payload.workerId : null,
      source: e.source,
      at: new Date(e.ts).toISOString(),
      details,
    });
    // one row per task (an upsert may not touch a row twice): its latest event in the batch
    latest.set(task.id, taskRow(task, e.event === "task.deleted", streamId));
  }
  return { decisions, events: history, tasks: [...latest.values()] };
}

/** A stored task as task.get answers it. */
export function taskOf(row: StoredTask): Task {
  const task: Task = {
    id: row.id,
    text: row.text,
    priority: row.priority,
    status: row.status as TaskStatus,
    attempts: row.attempts,
    maxAttempts: row.maxAttempts,
    metadata: row.metadata as Record<string, unknown>,
    createdAt: new Date(row.createdAt).toISOString(),
    updatedAt: new Date(row.updatedAt).toISOString(),
  };
  if (row.description !== null) task.description = row.description;
  if (row.channel !== null) task.channel = row.channel;
  if (row.assignedTo !== null) task.assignedTo = row.assignedTo;
  if (row.result !== null) task.result = row.result;
  if (row.error !== null) task.error = row.error;
  if (row.deadLettered) task.deadLettered = true;
  if (row.claimedAt !== null) task.claimedAt = new Date(row.claimedAt).toISOString();
  if (row.completedAt !== null) task.completedAt = new Date(row.completedAt).toISOString();
  return task;
}

export function auditRowOf(r: AuditRecord): AuditRow {
  const [event_ms, event_seq] = streamIdParts(r.id);
  return {
    event_ms,
    event_seq,
    at: r.at,
    method: r.method,
    transport: r.transport,
    outcome: r.outcome,
    target: r.target,
    session_id: r.sessionId,
    instance_id: r.instanceId,
    remote_address: r.remoteAddress,
    request_id: r.requestId,
    server: r.server,
    duration_ms: r.durationMs,
  };
}

export function auditRecordOf(row: StoredAudit): AuditRecord {
  return {
    id: `${row.eventMs}-${row.eventSeq}`,
    at: new Date(row.at).toISOString(),
    method: row.method,
    transport: row.transport as AuditRecord["transport"],
    outcome: row.outcome as AuditRecord["outcome"],
    target: row.target,
    sessionId: row.sessionId,
    instanceId: row.instanceId,
    remoteAddress: row.remoteAddress,
    requestId: row.requestId,
    server: row.server,
    durationMs: row.durationMs,
  };
}
