import type { Logger } from "../../core/logger.js";
import { entryBeside, type StoreChild } from "../../storage/db/embedded-pglite.js";
import { type DatabaseTarget, openTables } from "../../storage/db/open-tables.js";
import type { StoreOutbox } from "./outboxes.js";
import { type TaskDatabase, taskDatabase } from "./task-database.js";

/**
 * The server's durable task record, opened without waiting for the database (open-tables.ts).
 * Given `outbox`, the embedded store's process consumes the outboxes itself (store-process.ts),
 * so that the server's event loop does no persistence work; with PostgreSQL the server runs
 * the persisters (server.ts).
 */
export async function openDatabase(
  target: DatabaseTarget,
  log: Logger,
  outbox?: StoreOutbox,
): Promise<TaskDatabase> {
  const child: StoreChild | undefined = outbox && {
    entry: entryBeside(import.meta.url, "store-process"),
    config: outbox,
  };
  return taskDatabase(await openTables(target, log, child));
}
