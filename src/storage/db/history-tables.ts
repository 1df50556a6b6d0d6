import { fileURLToPath } from "node:url";
import { and, desc, eq, gte, or, type SQL, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import type { PgTable } from "drizzle-orm/pg-core";
import type pg from "pg";
import type { EmbeddedPglite } from "./embedded-pglite.js";
import { type DriverPool, openPool } from "./pool.js";
import { auditLog, type hookDecisions, taskEvents, tasks } from "./schema.js";

/**
 * The history's tables (schema.ts) on PostgreSQL (`DATABASE_URL`) or PGlite (embedded, in the
 * data directory, in a child process: embedded-pglite.ts), through one `pg` pool and the same
 * migrations and SQL: typed rows in, rows out. What the rows mean (a task event, an audit
 * record) is known above: domain/history.
 */

type DatabaseKind = "postgres" | "pglite";

/** What the server needs to know about its database to report health. */
export interface DatabaseProbe {
  readonly kind: DatabaseKind;
  /** Resolves with the round-trip time in ms; rejects when the database cannot answer. */
  ping(): Promise<number>;
  /**
   * True while an embedded store this server owns has not answered yet since the server
   * started: history waits in the outbox meanwhile, so the server is not degraded by it.
   */
  starting(): boolean;
}

type Columns<T extends PgTable> = T["_"]["columns"];
/**
 * A row as the batch writes take it: keyed by column name (`jsonb_to_recordset` reads the JSON
 * object's keys), every column present; times as ISO 8601 text, JSON columns as values. A JSON
 * null is an SQL NULL.
 */
type ColumnRow<T extends PgTable> = {
  [K in keyof Columns<T> as Columns<T>[K]["_"]["name"]]: T["$inferSelect"][K & keyof T["$inferSelect"]];
};

export type TaskRow = ColumnRow<typeof tasks>;
export type TaskEventRow = ColumnRow<typeof taskEvents>;
export type HookDecisionRow = ColumnRow<typeof hookDecisions>;
export type AuditRow = ColumnRow<typeof auditLog>;

/** The rows as queries return them (drizzle's names). */
export type StoredTask = typeof tasks.$inferSelect;
export type StoredTaskEvent = typeof taskEvents.$inferSelect;
export type StoredAudit = typeof auditLog.$inferSelect;

/** What one batch of the event stream writes, in one statement. */
export interface TaskBatch {
  decisions: readonly HookDecisionRow[];
  events: readonly TaskEventRow[];
  /** At most one row per task: an upsert may not touch a row twice. */
  tasks: readonly TaskRow[];
}

/** Narrows `audit_log`; every field present must match. */
export interface AuditFilter {
  method?: string;
  target?: string;
  outcome?: string;
  /** Matches the session id, the instance id or the remote address. */
  actor?: string;
  /** Rows at or after this time (epoch ms). */
  since?: number;
  limit: number;
}

export interface HistoryTables extends DatabaseProbe {
  /** The embedded store's child process, when this server owns one. */
  readonly store: EmbeddedPglite | null;
  /** Runs the migrations once (again after a failure); cheap once done. */
  prepare(): Promise<void>;
  /** Writes a batch idempotently: rows already written (same stream id) are kept; a task row only moves forward. */
  writeTaskBatch(batch: TaskBatch): Promise<void>;
  /** Writes audit rows idempotently (keyed by their stream id). */
  writeAudit(rows: readonly AuditRow[]): Promise<void>;
  /** A task's row, unless it was deleted. */
  task(id: string): Promise<StoredTask | null>;
  /** Every recorded transition of a task, oldest first. */
  taskEvents(taskId: string): Promise<StoredTaskEvent[]>;
  /** Audit rows matching the filter, newest first. */
  audit(filter: AuditFilter): Promise<StoredAudit[]>;
  close(): Promise<void>;
}

const MIGRATIONS = fileURLToPath(new URL("./migrations/", import.meta.url));

/** The embedded store seen from inside its own process: its wire server, as the server sees it. */
export function connectStore(connection: pg.PoolConfig): HistoryTables {
  return poolTables("pglite", connection, null);
}

/** The tables behind a `pg` pool: PostgreSQL, or the embedded store that `store` runs. */
export function poolTables(
  kind: DatabaseKind,
  config: pg.PoolConfig,
  store: EmbeddedPglite | null,
): HistoryTables {
  // PGlite is one backend: one connection at a time (pglite-wire.ts).
  return new PoolTables(kind, openPool({ max: kind === "pglite" ? 1 : 4, ...config }), store);
}

/** The columns an upsert of `tasks` sets (all but the key). */
const TASK_COLUMNS =
  "seq, text, description, priority, status, channel, assigned_to, attempts, max_attempts, metadata, result, " +
  "error, dead_lettered, created_at, updated_at, claimed_at, completed_at, deleted, event_ms, event_seq";

/*
 * The batch writes. Each takes its rows as one JSON array (`jsonb_to_recordset`): the statement
 * text never changes with the batch's size, and nothing is built per row but the JSON (drizzle's
 * multi-row VALUES builder was a fifth of the embedded store's CPU). One statement writes a whole
 * task batch (data-modifying CTEs): one round trip between BEGIN and COMMIT, not one per table. The same
 * SQL on PostgreSQL and PGlite; the row keys are the column names (ColumnRow). A JSON null is an
 * SQL NULL, as drizzle wrote it.
 */
const WRITE_TASK_BATCH = `
WITH decisions AS (
  INSERT INTO hook_decisions
    (event_ms, event_seq, session_id, instance_id, tool, input_digest, summary, decision, rule, reason, cwd, at, links)
  SELECT event_ms, event_seq, session_id, instance_id, tool, input_digest, summary, decision, rule, reason, cwd, at, links
  FROM jsonb_to_recordset($1::jsonb) AS r(event_ms bigint, event_seq integer, session_id text, instance_id text,
    tool text, input_digest text, summary text, decision text, rule text, reason text, cwd text,
    at timestamptz, links jsonb)
  ON CONFLICT DO NOTHING
), history AS (
  INSERT INTO task_events (event_ms, event_seq, task_id, event, status, actor, source, at, details)
  SELECT event_ms, event_seq, task_id, event, status, actor, source, at, details
  FROM jsonb_to_recordset($2::jsonb) AS r(event_ms bigint, event_seq integer, task_id text, event text,
    status text, actor text, source text, at timestamptz, details jsonb)
  ON CONFLICT DO NOTHING
)
INSERT INTO tasks (id, ${TASK_COLUMNS})
SELECT id, ${TASK_COLUMNS}
FROM jsonb_to_recordset($3::jsonb) AS r(id text, seq bigint, text text, description text, priority integer,
  status text, channel text, assigned_to text, attempts integer, max_attempts integer, metadata jsonb,
  result jsonb, error text, dead_lettered boolean, created_at timestamptz, updated_at timestamptz,
  claimed_at timestamptz, completed_at timestamptz, deleted boolean, event_ms bigint, event_seq integer)
ON CONFLICT (id) DO UPDATE SET ${TASK_COLUMNS.split(", ")
  .map((c) => `${c} = excluded.${c}`)
  .join(", ")}
-- an event replayed late never overwrites a newer state
WHERE (tasks.event_ms, tasks.event_seq) < (excluded.event_ms, excluded.event_seq)`;

const WRITE_AUDIT_BATCH = `
INSERT INTO audit_log (event_ms, event_seq, at, method, transport, outcome, target, session_id, instance_id,
  remote_address, request_id, server, duration_ms)
SELECT event_ms, event_seq, at, method, transport, outcome, target, session_id, instance_id,
  remote_address, request_id, server, duration_ms
FROM jsonb_to_recordset($1::jsonb) AS r(event_ms bigint, event_seq integer, at timestamptz, method text,
  transport text, outcome text, target text, session_id text, instance_id text, remote_address text,
  request_id text, server text, duration_ms double precision)
ON CONFLICT DO NOTHING`;

class PoolTables implements HistoryTables {
  #prepared: Promise<void> | null = null;

  constructor(
    readonly kind: DatabaseKind,
    private readonly pool: DriverPool,
    readonly store: EmbeddedPglite | null,
  ) {}

  starting(): boolean {
    return this.store?.state() === "starting";
  }

  prepare(): Promise<void> {
    this.#prepared ??= this.pool
      .withClient((client) => migrate(drizzle(client), { migrationsFolder: MIGRATIONS }))
      .catch((err) => {
        this.#prepared = null;
        throw err;
      });
    return this.#prepared;
  }

  async ping(): Promise<number> {
    const started = performance.now();
    await this.pool.db.execute(sql`select 1`);
    return performance.now() - started;
  }

  async writeTaskBatch({ decisions, events, tasks }: TaskBatch): Promise<void> {
    await this.prepare();
    // One statement is atomic by itself; a task batch keeps its explicit transaction so that
    // it still starts with BEGIN, as the pool-client test (connection cut at BEGIN) expects.
    await this.#write(WRITE_TASK_BATCH, [decisions, events, tasks], true);
  }

  async writeAudit(rows: readonly AuditRow[]): Promise<void> {
    await this.prepare();
    await this.#write(WRITE_AUDIT_BATCH, [rows], false);
  }

  /** Runs one of the batch writes, each parameter a set of rows as a JSON array. */
  #write(statement: string, rowSets: readonly (readonly object[])[], transaction: boolean): Promise<void> {
    return this.pool.withClient(async (client) => {
      if (transaction) await client.query("BEGIN");
      await client.query(
        statement,
        rowSets.map((rows) => JSON.stringify(rows)),
      );
      if (transaction) await client.query("COMMIT");
    });
  }

  async task(id: string): Promise<StoredTask | null> {
    await this.prepare();
    const [row] = await this.pool.db
      .select()
      .from(tasks)
      .where(and(eq(tasks.id, id), eq(tasks.deleted, false)));
    return row ?? null;
  }

  async taskEvents(taskId: string): Promise<StoredTaskEvent[]> {
    await this.prepare();
    return this.pool.db
      .select()
      .from(taskEvents)
      .where(eq(taskEvents.taskId, taskId))
      .orderBy(taskEvents.eventMs, taskEvents.eventSeq);
  }

  async audit(filter: AuditFilter): Promise<StoredAudit[]> {
    await this.prepare();
    const where: SQL[] = [];
    if (filter.method !== undefined) where.push(eq(auditLog.method, filter.method));
    if (filter.target !== undefined) where.push(eq(auditLog.target, filter.target));
    if (filter.outcome !== undefined) where.push(eq(auditLog.outcome, filter.outcome));
    if (filter.since !== undefined) where.push(gte(auditLog.at, new Date(filter.since).toISOString()));
    if (filter.actor !== undefined) {
      where.push(
        or(
          eq(auditLog.sessionId, filter.actor),
          eq(auditLog.instanceId, filter.actor),
          eq(auditLog.remoteAddress, filter.actor),
        ) as SQL,
      );
    }
    return this.pool.db
      .select()
      .from(auditLog)
      .where(and(...where))
      .orderBy(desc(auditLog.eventMs), desc(auditLog.eventSeq))
      .limit(filter.limit);
  }

  async close(): Promise<void> {
    await this.pool.end();
    await this.store?.stop();
  }
}
