import type { Logger } from "../../core/logger.js";
import type { AuditQuery, AuditRecord } from "../../domain/audit/record.js";
import type { DomainEvent } from "../event-log.js";
import type { DatabaseTarget, TaskDatabase } from "./database.js";
import { type EmbeddedPglite, type StoreOutbox, startEmbeddedPglite } from "./embedded-pglite.js";

/**
 * Opens the database without waiting for it: the embedded store starts in its own process
 * (seconds of WASM on a first start) and PostgreSQL may be down. The server serves at once; the
 * persister prepares (migrates) the database when it answers and catches up from the event
 * stream. Both kinds are reached through the same `pg` pool, SQL and migrations (database.ts).
 * The embedded store's process consumes the outbox itself (`outbox`), so that the server's event
 * loop does no persistence work; with PostgreSQL the server runs the persister (server.ts).
 *
 * Nor does the server load the driver at start-up: `pg` and drizzle are ~110 modules, a sixth of
 * its start-up time on a 2-core machine, and with the embedded store the server needs them only
 * to read history. They load at the first call, or at a health check while the store is still
 * starting (which then reports it as starting without waiting for them).
 */
export async function openDatabase(
  target: DatabaseTarget,
  log: Logger,
  outbox?: StoreOutbox,
): Promise<TaskDatabase> {
  if (target.kind === "pglite") {
    const store = await startEmbeddedPglite({ dir: target.dir, log, outbox });
    return new DatabaseOnDemand("pglite", store, async () =>
      (await import("./database.js")).poolDatabase("pglite", store.connection, store),
    );
  }
  return new DatabaseOnDemand("postgres", null, async () =>
    (await import("./database.js")).poolDatabase("postgres", { connectionString: target.url }, null),
  );
}

/** A TaskDatabase whose implementation (and driver) is loaded by its first call. */
class DatabaseOnDemand implements TaskDatabase {
  #loading: Promise<TaskDatabase> | null = null;

  constructor(
    readonly kind: TaskDatabase["kind"],
    readonly store: EmbeddedPglite | null,
    private readonly load: () => Promise<TaskDatabase>,
  ) {}

  #db(): Promise<TaskDatabase> {
    this.#loading ??= this.load();
    return this.#loading;
  }

  starting(): boolean {
    return this.store?.state() === "starting";
  }

  async ping(): Promise<number> {
    // A store that has not served yet cannot answer either: say so now, load the driver meanwhile.
    if (this.#loading === null && this.starting()) {
      this.#db().catch(() => undefined);
      throw new Error("the embedded history store is starting");
    }
    return (await this.#db()).ping();
  }

  async prepare(): Promise<void> {
    return (await this.#db()).prepare();
  }

  async applyEvents(events: readonly DomainEvent[]): Promise<number> {
    return (await this.#db()).applyEvents(events);
  }

  async applyAudit(records: readonly AuditRecord[]): Promise<number> {
    return (await this.#db()).applyAudit(records);
  }

  async queryAudit(query: AuditQuery): Promise<AuditRecord[]> {
    return (await this.#db()).queryAudit(query);
  }

  async getTask(id: string): ReturnType<TaskDatabase["getTask"]> {
    return (await this.#db()).getTask(id);
  }

  async history(taskId: string): ReturnType<TaskDatabase["history"]> {
    return (await this.#db()).history(taskId);
  }

  async close(): Promise<void> {
    if (this.#loading) await (await this.#loading.catch(() => null))?.close();
    else await this.store?.stop();
  }
}
