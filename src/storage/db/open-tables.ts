import type { Logger } from "../../core/logger.js";
import { type EmbeddedPglite, type StoreChild, startEmbeddedPglite } from "./embedded-pglite.js";
import type { AuditFilter, AuditRow, HistoryTables, TaskBatch } from "./history-tables.js";

export type DatabaseTarget = { kind: "postgres"; url: string } | { kind: "pglite"; dir: string };

/**
 * Opens the history's tables without waiting for the database: the embedded store starts in its
 * own process (seconds of WASM on a first start) and PostgreSQL may be down. The server serves at
 * once; the persister prepares (migrates) the database when it answers and catches up from the
 * event stream. Both kinds are reached through the same `pg` pool, SQL and migrations
 * (history-tables.ts). The embedded store's process may run more work than serving (`child`).
 *
 * Nor does the server load the driver at start-up: `pg` and drizzle are ~110 modules, a sixth of
 * its start-up time on a 2-core machine, and with the embedded store the server needs them only
 * to read history. They load at the first call, or at a health check while the store is still
 * starting (which then reports it as starting without waiting for them). So this module and
 * everything the server imports statically import history-tables.ts for its types only.
 */
export async function openTables(
  target: DatabaseTarget,
  log: Logger,
  child?: StoreChild,
): Promise<HistoryTables> {
  if (target.kind === "pglite") {
    const store = await startEmbeddedPglite({ dir: target.dir, log, child });
    return new TablesOnDemand("pglite", store, async () =>
      (await import("./history-tables.js")).poolTables("pglite", store.connection, store),
    );
  }
  return new TablesOnDemand("postgres", null, async () =>
    (await import("./history-tables.js")).poolTables("postgres", { connectionString: target.url }, null),
  );
}

/** HistoryTables whose implementation (and driver) is loaded by its first call. */
class TablesOnDemand implements HistoryTables {
  #loading: Promise<HistoryTables> | null = null;

  constructor(
    readonly kind: HistoryTables["kind"],
    readonly store: EmbeddedPglite | null,
    private readonly load: () => Promise<HistoryTables>,
  ) {}

  #tables(): Promise<HistoryTables> {
    this.#loading ??= this.load();
    return this.#loading;
  }

  starting(): boolean {
    return this.store?.state() === "starting";
  }

  async ping(): Promise<number> {
    // A store that has not served yet cannot answer either: say so now, load the driver meanwhile.
    if (this.#loading === null && this.starting()) {
      this.#tables().catch(() => undefined);
      throw new Error("the embedded history store is starting");
    }
    return (await this.#tables()).ping();
  }

  async prepare(): Promise<void> {
    return (await this.#tables()).prepare();
  }

  async writeTaskBatch(batch: TaskBatch): Promise<void> {
    return (await this.#tables()).writeTaskBatch(batch);
  }

  async writeAudit(rows: readonly AuditRow[]): Promise<void> {
    return (await this.#tables()).writeAudit(rows);
  }

  async task(id: string): ReturnType<HistoryTables["task"]> {
    return (await this.#tables()).task(id);
  }

  async taskEvents(taskId: string): ReturnType<HistoryTables["taskEvents"]> {
    return (await this.#tables()).taskEvents(taskId);
  }

  async audit(filter: AuditFilter): ReturnType<HistoryTables["audit"]> {
    return (await this.#tables()).audit(filter);
  }

  async close(): Promise<void> {
    if (this.#loading) await (await this.#loading.catch(() => null))?.close();
    else await this.store?.stop();
  }
}
