import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from "drizzle-orm/pg-core";

/**
 * The durable record of the task queue, written from the event stream (Redis is the live
 * state). `tasks` holds each task's latest known state; `task_events` every transition.
 * Redis stream ids order events: (event_ms, event_seq) of the last event applied to a row,
 * so an older event replayed late never overwrites a newer state.
 */
export const tasks = pgTable(
  "tasks",
  {
    id: text("id").primaryKey(),
    seq: bigint("seq", { mode: "number" }).notNull(),
    text: text("text").notNull(),
    description: text("description"),
    priority: integer("priority").notNull(),
    status: text("status").notNull(),
    channel: text("channel"),
    assignedTo: text("assigned_to"),
    attempts: integer("attempts").notNull(),
    maxAttempts: integer("max_attempts").notNull(),
    metadata: jsonb("metadata").notNull().default(sql`'{}'::jsonb`),
    result: jsonb("result"),
    error: text("error"),
    deadLettered: boolean("dead_lettered").notNull().default(false),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "string" }).notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "string" }).notNull(),
    claimedAt: timestamp("claimed_at", { withTimezone: true, mode: "string" }),
    completedAt: timestamp("completed_at", { withTimezone: true, mode: "string" }),
    deleted: boolean("deleted").notNull().default(false),
    eventMs: bigint("event_ms", { mode: "number" }).notNull(),
    eventSeq: integer("event_seq").notNull(),
  },
  (t) => [index("tasks_status_idx").on(t.status), index("tasks_channel_idx").on(t.channel)],
);

export const taskEvents = pgTable(
  "task_events",
  {
    eventMs: bigint("event_ms", { mode: "number" }).notNull(),
    eventSeq: integer("event_seq").notNull(),
    taskId: text("task_id").notNull(),
    event: text("event").notNull(),
    status: text("status").notNull(),
    actor: text("actor"),
    source: text("source").notNull(),
    at: timestamp("at", { withTimezone: true, mode: "string" }).notNull(),
    details: jsonb("details").notNull().default(sql`'{}'::jsonb`),
  },
  (t) => [primaryKey({ columns: [t.eventMs, t.eventSeq] }), index("task_events_task_idx").on(t.taskId)],
);

/**
 * Every pre-tool decision of the hook chain (the audit trail of what agents were allowed to do);
 * `links`: each link that ran, with its outcome and duration (extensions/hook-links/chain.ts).
 */
export const hookDecisions = pgTable(
  "hook_decisions",
  {
    eventMs: bigint("event_ms", { mode: "number" }).notNull(),
    eventSeq: integer("event_seq").notNull(),
    sessionId: text("session_id"),
    instanceId: text("instance_id"),
    tool: text("tool").notNull(),
    inputDigest: text("input_digest").notNull(),
    summary: text("summary"),
    decision: text("decision").notNull(),
    rule: text("rule"),
    reason: text("reason"),
    cwd: text("cwd"),
    at: timestamp("at", { withTimezone: true, mode: "string" }).notNull(),
    links: jsonb("links"),
  },
  (t) => [
    primaryKey({ columns: [t.eventMs, t.eventSeq] }),
    index("hook_decisions_session_idx").on(t.sessionId),
  ],
);

/**
 * The audit trail: every state-changing call (see domain/audit/record.ts), written from the
 * audit stream. The stream id is the key, so a record replayed is written once.
 */
export const auditLog = pgTable(
  "audit_log",
  {
    eventMs: bigint("event_ms", { mode: "number" }).notNull(),
    eventSeq: integer("event_seq").notNull(),
    at: timestamp("at", { withTimezone: true, mode: "string" }).notNull(),
    method: text("method").notNull(),
    transport: text("transport").notNull(),
    outcome: text("outcome").notNull(),
    target: text("target"),
    sessionId: text("session_id"),
    instanceId: text("instance_id"),
    remoteAddress: text("remote_address"),
    requestId: text("request_id").notNull(),
    server: text("server").notNull(),
    durationMs: doublePrecision("duration_ms").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.eventMs, t.eventSeq] }),
    index("audit_log_method_idx").on(t.method),
    index("audit_log_target_idx").on(t.target),
    index("audit_log_session_idx").on(t.sessionId),
  ],
);
