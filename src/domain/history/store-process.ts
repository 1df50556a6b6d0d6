import { createLogger } from "../../core/logger.js";
import { connectStore } from "../../storage/db/history-tables.js";
import { runPgliteChild } from "../../storage/db/pglite-child.js";
import { createKeys } from "../../storage/keys.js";
import { connectRedis } from "../../storage/redis.js";
import { persistOutboxes, type StoreOutbox } from "./outboxes.js";
import { taskDatabase } from "./task-database.js";

/**
 * The embedded history store's process when it writes the history itself (open-database.ts
 * names it): PGlite behind its wire server (storage/db/pglite-child.ts), and the outbox
 * consumers writing the event and audit streams to it through that wire server, with the same
 * pool and SQL as the server uses with PostgreSQL. Its config (StoreOutbox) comes on stdin.
 */

/** The outbox consumers gather entries this long between batches (persister.ts, lingerMs). */
const LINGER_MS = 250;

await runPgliteChild<StoreOutbox>(async (connection, outbox) => {
  const log = createLogger(outbox.logLevel, { instanceId: outbox.consumer, component: "history-store" });
  const database = taskDatabase(connectStore(connection));
  const redis = await connectRedis(outbox.redisUrl, `claudebench:${outbox.consumer}:store`);
  const stopPersisting = await persistOutboxes({
    redis,
    keys: createKeys(outbox.keyPrefix),
    database,
    consumer: outbox.consumer,
    log,
    lingerMs: LINGER_MS,
  });
  return async () => {
    await stopPersisting();
    redis.disconnect();
    await database.close();
  };
});
