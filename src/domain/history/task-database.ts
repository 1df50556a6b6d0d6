import type { DomainEvent } from "../../contract/events.js";
import type { Task } from "../../contract/tasks.js";
import type { EmbeddedPglite } from "../../storage/db/embedded-pglite.js";
import type { DatabaseProbe, HistoryTables, StoredTaskEvent } from "../../storage/db/history-tables.js";
import type { AuditArchive, AuditQuery, AuditRecord } from "../audit/record.js";
import { auditRecordOf, auditRowOf, taskBatchOf, taskOf } from "./projection.js";

/**
 * The durable task record: the history's tables (storage/db) seen as the domain's objects.
 * Written only from the streams (outboxes.ts), read for tasks that left Redis and the audit log.
 */

/** Read access to the durable task record (tasks archived out of Redis). */
export interface TaskArchive {
  getTask(id: string): Promise<Task | null>;
}

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
  history(taskId: string): Promise<StoredTaskEvent[]>;
  close(): Promise<void>;
}

export function taskDatabase(tables: HistoryTables): TaskDatabase {
  return {
    kind: tables.kind,
    store: tables.store,
    starting: () => tables.starting(),
    ping: () => tables.ping(),
    prepare: () => tables.prepare(),
    applyEvents: async (events) => {
      const batch = taskBatchOf(events);
      const written = batch.events.length + batch.decisions.length;
      if (written > 0) await tables.writeTaskBatch(batch);
      return written;
    },
    applyAudit: async (records) => {
      if (records.length > 0) await tables.writeAudit(records.map(auditRowOf));
      return records.length;
    },
    queryAudit: async (query: AuditQuery) => (await tables.audit(query)).map(auditRecordOf),
    getTask: async (id) => {
      const row = await tables.task(id);
      return row ? taskOf(row) : null;
    },
    history: (taskId) => tables.taskEvents(taskId),
    close: () => tables.close(),
  };
}
