import { fileURLToPath } from "node:url";
import { and, desc, eq, gte, or, type SQL, sql } from "drizzle-orm";
import { drizzle as drizzlePg, type NodePgDatabase } from "drizzle-orm/node-postgres";
import { migrate as migratePg } from "drizzle-orm/node-postgres/migrator";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import pg from "pg";
import type { DatabaseProbe, TaskArchive } from "../../core/context.js";
import type { Logger } from "../../core/logger.js";
import type { AuditArchive, AuditQuery, AuditRecord } from "../../domain/audit/record.js";
import { seqOf, type Task, type TaskStatus } from "../../domain/tasks/model.js";
import type { DomainEvent } from "../event-log.js";
import { type EmbeddedPglite, type StoreOutbox, startEmbeddedPglite } from "./embedded-pglite.js";
import { auditLog, hookDecisions, taskEvents, tasks } from "./schema.js";

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

/**
 * Opens the database without waiting for it: the embedded store starts in its own process
 * (seconds of WASM on a first start) and PostgreSQL may be down. The server serves at once; the
 * persister prepares (migrates) the database when it answers and catches up from the event
 * stream. Both kinds are reached through the same `pg` pool, SQL and migrations. The embedded
 * store's process consumes the outbox itself (`outbox`), so that the server's event loop does
 * no persistence work; with PostgreSQL the server runs the persister (server.ts).
 */
export async function openDatabase(
  target: DatabaseTarget,
  log: Logger,
  outbox?: StoreOutbox,
): Promise<TaskDatabase> {
  if (target.kind === "pglite") {
    const store = await startEmbeddedPglite({ dir: target.dir, log, outbox });
    return poolDatabase("pglite", store.connection, store);
  }
  return poolDatabase("postgres", { connectionString: target.url }, null);
}

/** The embedded store seen from inside its own process: its wire server, as the server sees it. */
export function connectStore(connection: pg.PoolConfig): TaskDatabase {
  return poolDatabase("pglite", connection, null);
}

function poolDatabase(
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
  // good) and pool.end() at shutdown hangs. So transactions run on a client checked out here,
  // released in any case, and dropped from the pool when it failed.
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
    (work) => onClient((client) => client.transaction((tx) => work(tx as unknown as Db))),
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

/** An audited pre-tool decision (event `hook.pre_tool.decided`) as a row. */
function hookDecisionRow(e: DomainEvent): typeof hookDecisions.$inferInsert {
  const [eventMs, eventSeq] = streamIdParts(e.id);
  const p = e.payload;
  return {
    eventMs,
    eventSeq,
    sessionId: text(p.sessionId),
    instanceId: text(p.instanceId),
    tool: text(p.tool) ?? "unknown",
    inputDigest: text(p.inputDigest) ?? "",
    summary: text(p.summary),
    decision: text(p.decision) ?? "unknown",
    rule: text(p.rule),
    reason: text(p.reason),
    cwd: text(p.cwd),
    at: new Date(e.ts).toISOString(),
    links: Array.isArray(p.links) ? p.links : null,
  };
}

const TASK_COLUMNS = [
  "seq",
  "text",
  "description",
  "priority",
  "status",
  "channel",
  "assignedTo",
  "attempts",
  "maxAttempts",
  "metadata",
  "result",
  "error",
  "deadLettered",
  "createdAt",
  "updatedAt",
  "claimedAt",
  "completedAt",
  "deleted",
  "eventMs",
  "eventSeq",
] as const;

class DrizzleTaskDatabase implements TaskDatabase {
  #prepared: Promise<void> | null = null;

  constructor(
    readonly kind: "postgres" | "pglite",
    private readonly db: Db,
    private readonly migrate: () => Promise<void>,
    /** Runs `work` in one transaction. */
    private readonly transact: (work: (tx: Db) => Promise<void>) => Promise<void>,
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
    const history: (typeof taskEvents.$inferInsert)[] = [];
    const latest = new Map<string, typeof tasks.$inferInsert>();
    const decisions: (typeof hookDecisions.$inferInsert)[] = [];
    for (const e of events) {
      if (e.event === "hook.pre_tool.decided") {
        decisions.push(hookDecisionRow(e));
        continue;
      }
      // the typed task (parseEventEntry reads the scripts' hash into the Task task.get answers)
      const task = e.payload.task as Task | undefined;
      if (!e.event.startsWith("task.") || !task?.id) continue;
      const [eventMs, eventSeq] = streamIdParts(e.id);
      const { task: _snapshot, ...details } = e.payload;
      history.push({
        eventMs,
        eventSeq,
        taskId: task.id,
        event: e.event,
        status: task.status,
        actor: typeof e.payload.workerId === "string" ? e.payload.workerId : null,
        source: e.source,
        at: new Date(e.ts).toISOString(),
        details,
      });
      latest.set(task.id, {
        id: task.id,
        seq: seqOf(task.id),
        text: task.text,
        description: task.description ?? null,
        priority: task.priority,
        status: task.status,
        channel: task.channel ?? null,
        assignedTo: task.assignedTo ?? null,
        attempts: task.attempts,
        maxAttempts: task.maxAttempts,
        metadata: task.metadata,
        result: task.result === undefined ? null : task.result,
        error: task.error ?? null,
        deadLettered: task.deadLettered ?? false,
        createdAt: task.createdAt,
        updatedAt: task.updatedAt,
        claimedAt: task.claimedAt ?? null,
        completedAt: task.completedAt ?? null,
        deleted: e.event === "task.deleted",
        eventMs,
        eventSeq,
      });
    }
    if (history.length === 0 && decisions.length === 0) return 0;
    await this.prepare();
    await this.transact(async (tx) => {
      if (decisions.length > 0) await tx.insert(hookDecisions).values(decisions).onConflictDoNothing();
      if (history.length === 0) return;
      await tx.insert(taskEvents).values(history).onConflictDoNothing();
      await tx
        .insert(tasks)
        .values([...latest.values()])
        .onConflictDoUpdate({
          target: tasks.id,
          set: Object.fromEntries(TASK_COLUMNS.map((c) => [c, sql.raw(`excluded.${tasks[c].name}`)])),
          // an event replayed late never overwrites a newer state
          setWhere: sql`(${tasks.eventMs}, ${tasks.eventSeq}) < (excluded.event_ms, excluded.event_seq)`,
        });
    });
    return history.length + decisions.length;
  }

  async applyAudit(records: readonly AuditRecord[]): Promise<number> {
    if (records.length === 0) return 0;
    await this.prepare();
    await this.db
      .insert(auditLog)
      .values(
        records.map((r) => {
          const [eventMs, eventSeq] = streamIdParts(r.id);
          return {
            eventMs,
            eventSeq,
            at: r.at,
            method: r.method,
            transport: r.transport,
            outcome: r.outcome,
            target: r.target,
            sessionId: r.sessionId,
            instanceId: r.instanceId,
            remoteAddress: r.remoteAddress,
            requestId: r.requestId,
            server: r.server,
            durationMs: r.durationMs,
          };
        }),
      )
      .onConflictDoNothing();
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
