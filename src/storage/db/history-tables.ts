import { fileURLToPath } from "node:url";
import { and, desc, eq, gte, or, type SQL, sql } from "drizzle-orm";
import { drizzle as drizzlePg, type NodePgDatabase } from "drizzle-orm/node-postgres";
import { migrate as migratePg } from "drizzle-orm/node-postgres/migrator";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import pg from "pg";
import type { DatabaseProbe, TaskArchive } from "../../core/context.js";
import type { AuditArchive, AuditQuery, AuditRecord } from "../../domain/audit/record.js";
import { seqOf, type Task, type TaskStatus } from "../../domain/tasks/model.js";
import type { DomainEvent } from "../event-log.js";
import type { EmbeddedPglite } from "./embedded-pglite.js";
import { auditLog, taskEvents, tasks } from "./schema.js";

/**
 * The durable task record on PostgreSQL (`DATABASE_URL`) or PGlite (embedded, in the data
 * directory, in a child process: embedded-pglite.ts), through one drizzle schema, one `pg`
 * pool and the same migrations. Written only from the
 * event stream (see persister.ts), read for tasks that left Redis.
 */

export type DatabaseTarget = { kind: "postgres"; url: string } | { kind: "pglite"; dir: string };

export interface TaskDatabase extends DatabaseProbe, TaskArchive, AuditArchive {
  /** Runs the migrations once (again after a failure); cheap once done. */
  prepare(): Promise<void>;
  /** Applies task events idempotently: replaying any of them changes nothing. */
  applyEvents(events: readonly DomainEvent[]): Promise<number>;
  /** Writes audit records idempotently (keyed by their stream id). */
  applyAudit(records: readonly AuditRecord[]): Promise<number>;
  /** The embedded store's child process, when this server owns one. */
  readonly store: EmbeddedPglite | null;
  /** Every recorded transition of a task, oldest first. */
  history(taskId: string): Promise<(typeof taskEvents.$inferSelect)[]>;
  close(): Promise<void>;
}

const MIGRATIONS = fileURLToPath(new URL("./migrations/", import.meta.url));

type Db = PgDatabase<PgQueryResultHKT>;

/** The embedded store seen from inside its own process: its wire server, as the server sees it. */
export function connectStore(connection: pg.PoolConfig): TaskDatabase {
  return poolDatabase("pglite", connection, null);
}

/** The database behind a `pg` pool: PostgreSQL, or the embedded store that `store` runs. */
export function poolDatabase(
  kind: TaskDatabase["kind"],
  config: pg.PoolConfig,
  store: EmbeddedPglite | null,
): TaskDatabase {
  // PGlite is one backend: one connection at a time (pglite-wire.ts).
  const pool = new pg.Pool({ max: kind === "pglite" ? 1 : 4, ...config, connectionTimeoutMillis: 5000 });
  // An idle client's error (the database restarted) must not crash the server; the next query reports it.
  pool.on("error", () => undefined);
  // Nor may a checked-out one's: a transaction holds its client outside the pool's idle listener,
  // and a connection lost mid-transaction (PostgreSQL stopped) emits 'error' on that client. The
  // transaction's query fails anyway, the persister retries, the pool drops the broken client.
  pool.on("connect", (client) => client.on("error", () => undefined));
  const db = drizzlePg(pool);
  // drizzle's transaction on a Pool never releases its client when BEGIN fails (the connection
  // was just lost): each outage could leak one until the pool is exhausted (persistence stops for
  // good) and pool.end() at shutdown hangs. So the migrations' transaction runs on a client checked
  // out here, released in any case, and dropped from the pool when it failed (as pool.query does).
  const onClient = async <T>(work: (client: NodePgDatabase) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    let failure: Error | undefined;
    try {
      return await work(drizzlePg(client));
    } catch (err) {
      failure = err as Error;
      throw err;
    } finally {
      client.release(failure);
    }
  };
  return new DrizzleTaskDatabase(
    kind,
    db as unknown as Db,
    () => onClient((client) => migratePg(client, { migrationsFolder: MIGRATIONS })),
    async (statement, rowSets, transaction) => {
      const client = await pool.connect();
      let failure: Error | undefined;
      try {
        // One statement is atomic by itself; a task batch keeps its explicit transaction so that
        // it still starts with BEGIN, as the pool-client test (connection cut at BEGIN) expects.
        if (transaction) await client.query("BEGIN");
        await client.query(
          statement,
          rowSets.map((rows) => JSON.stringify(rows)),
        );
        if (transaction) await client.query("COMMIT");
      } catch (err) {
        failure = err as Error;
        throw err;
      } finally {
        // a failed client is dropped, never returned to the pool mid-transaction
        client.release(failure);
      }
    },
    async () => {
      await pool.end();
      await store?.stop();
    },
    store,
  );
}

const streamIdParts = (id: string): [number, number] => {
  const dash = id.indexOf("-");
  return [Number(id.slice(0, dash)), Number(id.slice(dash + 1))];
};

const text = (v: unknown) => (typeof v === "string" ? v : null);

/** The columns an upsert of `tasks` sets (all but the key). */
const TASK_COLUMNS =
  "seq, text, description, priority, status, channel, assigned_to, attempts, max_attempts, metadata, result, " +
  "error, dead_lettered, created_at, updated_at, claimed_at, completed_at, deleted, event_ms, event_seq";

/** An audited pre-tool decision (event `hook.pre_tool.decided`) as a row (column names). */
function hookDecisionRow(e: DomainEvent): Record<string, unknown> {
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

/*
 * The batch writes. Each takes its rows as one JSON array (`jsonb_to_recordset`): the statement
 * text never changes with the batch's size, and nothing is built per row but the JSON (drizzle's
 * multi-row VALUES builder was a fifth of the embedded store's CPU). One statement writes a whole
 * task batch (data-modifying CTEs): one round trip between BEGIN and COMMIT, not one per table. The same
 * SQL on PostgreSQL and PGlite; the row keys are the column names (schema.ts). A JSON null is an
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

class DrizzleTaskDatabase implements TaskDatabase {
  #prepared: Promise<void> | null = null;

  constructor(
    readonly kind: "postgres" | "pglite",
    private readonly db: Db,
    private readonly migrate: () => Promise<void>,
    /** Runs one of the batch writes, each parameter a set of rows as a JSON array. */
    private readonly write: (
      statement: string,
      rowSets: readonly unknown[][],
      transaction: boolean,
    ) => Promise<void>,
    private readonly closeClient: () => Promise<void>,
    readonly store: EmbeddedPglite | null,
  ) {}

  starting(): boolean {
    return this.store?.state() === "starting";
  }

  prepare(): Promise<void> {
    this.#prepared ??= this.migrate().catch((err) => {
      this.#prepared = null;
      throw err;
    });
    return this.#prepared;
  }

  async ping(): Promise<number> {
    const started = performance.now();
    await this.db.execute(sql`select 1`);
    return performance.now() - started;
  }

  async applyEvents(events: readonly DomainEvent[]): Promise<number> {
    const history: Record<string, unknown>[] = [];
    const latest = new Map<string, Record<string, unknown>>();
    const decisions: Record<string, unknown>[] = [];
    for (const e of events) {
      if (e.event === "hook.pre_tool.decided") {
        decisions.push(hookDecisionRow(e));
        continue;
      }
      // the typed task (parseEventEntry reads the scripts' hash into the Task task.get answers)
      const task = e.payload.task as Task | undefined;
      if (!e.event.startsWith("task.") || !task?.id) continue;
      const [event_ms, event_seq] = streamIdParts(e.id);
      const { task: _snapshot, ...details } = e.payload;
      history.push({
        event_ms,
        event_seq,
        task_id: task.id,
        event: e.event,
        status: task.status,
        actor: typeof e.payload.workerId === "string" ? e.payload.workerId : null,
        source: e.source,
        at: new Date(e.ts).toISOString(),
        details,
      });
      // one row per task (an upsert may not touch a row twice): its latest event in the batch
      latest.set(task.id, {
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
        deleted: e.event === "task.deleted",
        event_ms,
        event_seq,
      });
    }
    if (history.length === 0 && decisions.length === 0) return 0;
    await this.prepare();
    await this.write(WRITE_TASK_BATCH, [decisions, history, [...latest.values()]], true);
    return history.length + decisions.length;
  }

  async applyAudit(records: readonly AuditRecord[]): Promise<number> {
    if (records.length === 0) return 0;
    await this.prepare();
    const rows = records.map((r) => {
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
    });
    await this.write(WRITE_AUDIT_BATCH, [rows], false);
    return records.length;
  }

  async queryAudit(query: AuditQuery): Promise<AuditRecord[]> {
    await this.prepare();
    const where: SQL[] = [];
    if (query.method !== undefined) where.push(eq(auditLog.method, query.method));
    if (query.target !== undefined) where.push(eq(auditLog.target, query.target));
    if (query.outcome !== undefined) where.push(eq(auditLog.outcome, query.outcome));
    if (query.since !== undefined) where.push(gte(auditLog.at, new Date(query.since).toISOString()));
    if (query.actor !== undefined) {
      where.push(
        or(
          eq(auditLog.sessionId, query.actor),
          eq(auditLog.instanceId, query.actor),
          eq(auditLog.remoteAddress, query.actor),
        ) as SQL,
      );
    }
    const rows = await this.db
      .select()
      .from(auditLog)
      .where(and(...where))
      .orderBy(desc(auditLog.eventMs), desc(auditLog.eventSeq))
      .limit(query.limit);
    return rows.map((row) => ({
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
    }));
  }

  async getTask(id: string): Promise<Task | null> {
    await this.prepare();
    const [row] = await this.db
      .select()
      .from(tasks)
      .where(and(eq(tasks.id, id), eq(tasks.deleted, false)));
    if (!row) return null;
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

  async history(taskId: string) {
    await this.prepare();
    return this.db
      .select()
      .from(taskEvents)
      .where(eq(taskEvents.taskId, taskId))
      .orderBy(taskEvents.eventMs, taskEvents.eventSeq);
  }

  close(): Promise<void> {
    return this.closeClient();
  }
}
