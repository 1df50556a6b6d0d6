import type { Redis } from "ioredis";
import type { Logger } from "../../core/logger.js";
import type { Keys } from "../../storage/keys.js";
import { parseAuditEntry } from "../audit/record.js";
import { parseEventEntry } from "../events/event-log.js";
import { type Outbox, StreamPersister } from "./persister.js";
import type { TaskDatabase } from "./task-database.js";

/**
 * What the history is written from: task events and pre-tool decisions from the event stream,
 * audit records from the audit stream, each consumed by a StreamPersister. With PostgreSQL the
 * server consumes them; the embedded store's process consumes them itself (store-process.ts).
 */

/** Task events and pre-tool decisions, from the event stream. */
const eventOutbox = (keys: Keys, database: TaskDatabase): Outbox => ({
  name: "persist",
  stream: keys.events(),
  capSetting: "EVENT_STREAM_MAXLEN",
  write: (entries) => database.applyEvents(entries.flatMap((entry) => parseEventEntry(entry) ?? [])),
});

/** Audit records, from the audit stream. */
const auditOutbox = (keys: Keys, database: TaskDatabase): Outbox => ({
  name: "persist-audit",
  stream: keys.audit(),
  capSetting: "AUDIT_STREAM_MAXLEN",
  write: (entries) => database.applyAudit(entries.flatMap((entry) => parseAuditEntry(entry) ?? [])),
});

interface PersistOptions {
  redis: Redis;
  keys: Keys;
  database: TaskDatabase;
  /** The consumer name in the `persist` groups: the server's instance id. */
  consumer: string;
  log: Logger;
  /** Passed to each StreamPersister (its lingerMs). */
  lingerMs?: number;
}

/** Starts consuming both outboxes into the database; resolves with what stops them. */
export async function persistOutboxes(options: PersistOptions): Promise<() => Promise<void>> {
  const { redis, keys, database, consumer, log, lingerMs } = options;
  const persisters: StreamPersister[] = [];
  const stop = async () => {
    for (const persister of persisters) await persister.stop();
  };
  try {
    for (const outbox of [eventOutbox(keys, database), auditOutbox(keys, database)]) {
      const persister = new StreamPersister(redis, outbox, consumer, log, lingerMs);
      await persister.start();
      persisters.push(persister);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return stop;
}

/** What the embedded store's process needs to consume the outboxes itself (open-database.ts). */
export interface StoreOutbox {
  /** Carries the private Redis' password: never print or log it. */
  readonly redisUrl: string;
  readonly keyPrefix: string;
  /** The consumer name in the `persist` groups: the server's instance id. */
  readonly consumer: string;
  readonly logLevel: string;
}
