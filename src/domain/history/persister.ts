import type { Redis } from "ioredis";
import type { Logger } from "../../core/logger.js";
import { blockingConnection } from "../../storage/redis.js";

/**
 * The outbox consumer: reads a stream (the event stream, the audit stream: outboxes.ts) through
 * the consumer group `persist` (each entry goes to one server process), writes each batch to the
 * database in one transaction, and only then acknowledges it. A slow or absent database never touches a Redis-side
 * request: while it is away the batch stays unacknowledged and is retried with backoff,
 * so the history catches up when it returns (as long as the stream cap has not dropped
 * the events meanwhile: EVENT_STREAM_MAXLEN bounds how long an outage can last).
 */

type RawEntry = [string, string[] | null];

/** One stream written to the database: where to read, how to write a batch (idempotently). */
export interface Outbox {
  /** Names the consumer's connection and its log lines. */
  readonly name: string;
  readonly stream: string;
  /** The setting that caps the stream, named when entries were trimmed before they were written. */
  readonly capSetting: string;
  /** Writes the batch's entries; replaying an entry must change nothing. Entries without fields were trimmed. */
  write(entries: readonly RawEntry[]): Promise<unknown>;
}

type StreamReply = [string, RawEntry[]][] | null;

const PERSIST_GROUP = "persist";
const BATCH = 500;
const BLOCK_MS = 2000;
const MAX_BACKOFF_MS = 30_000;
/** Entries a dead consumer left unacknowledged are taken over after this idle time. */
const CLAIM_IDLE_MS = 60_000;

export class StreamPersister {
  #stopped = false;
  #conn: Redis | null = null;
  #loop: Promise<void> | null = null;
  #failingSince: number | null = null;
  #wake: (() => void) | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly outbox: Outbox,
    private readonly consumer: string,
    private readonly log: Logger,
    /**
     * After a batch smaller than a full one, wait this long before reading again, so that the
     * next batch gathers more entries: each batch costs a transaction's round trips whatever its
     * size. The history is that much later; 0 reads again at once.
     */
    private readonly lingerMs = 0,
  ) {}

  async start(): Promise<void> {
    try {
      // From "0": events already in the stream when persistence starts are recorded too.
      await this.redis.xgroup("CREATE", this.outbox.stream, PERSIST_GROUP, "0", "MKSTREAM");
    } catch (err) {
      if (!String((err as Error).message).includes("BUSYGROUP")) throw err;
    }
    this.#conn = await blockingConnection(this.redis, `${this.consumer}:${this.outbox.name}`);
    this.#loop = this.#run(this.#conn);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    this.#conn?.disconnect();
    await this.#loop;
  }

  async #run(conn: Redis): Promise<void> {
    const { stream } = this.outbox;
    let backoff = 500;
    // First what this consumer was given but never acknowledged (a previous run, a DB outage).
    let cursor = "0";
    let lastClaim = 0;
    while (!this.#stopped) {
      try {
        if (Date.now() - lastClaim > CLAIM_IDLE_MS) {
          lastClaim = Date.now();
          await this.redis.xautoclaim(
            stream,
            PERSIST_GROUP,
            this.consumer,
            CLAIM_IDLE_MS,
            "0-0",
            "COUNT",
            BATCH,
          );
          cursor = "0";
        }
        const reply = (
          cursor === ">"
            ? await conn.xreadgroup(
                "GROUP",
                PERSIST_GROUP,
                this.consumer,
                "COUNT",
                BATCH,
                "BLOCK",
                BLOCK_MS,
                "STREAMS",
                stream,
                ">",
              )
            : await conn.xreadgroup(
                "GROUP",
                PERSIST_GROUP,
                this.consumer,
                "COUNT",
                BATCH,
                "STREAMS",
                stream,
                cursor,
              )
        ) as StreamReply;
        const entries = reply?.[0]?.[1] ?? [];
        if (cursor !== ">" && entries.length === 0) {
          cursor = ">"; // the backlog is done: now new events
          continue;
        }
        if (entries.length === 0) continue;
        const trimmed = entries.filter(([, fields]) => !fields).length;
        if (trimmed > 0) {
          this.log.error(
            { trimmed, stream },
            `entries were trimmed from the stream before they were persisted (raise ${this.outbox.capSetting})`,
          );
        }
        await this.outbox.write(entries);
        await this.redis.xack(stream, PERSIST_GROUP, ...entries.map(([id]) => id));
        if (cursor !== ">") cursor = entries[entries.length - 1]?.[0] ?? cursor;
        this.#recovered();
        backoff = 500;
        if (this.lingerMs > 0 && entries.length < BATCH) await this.#sleep(this.lingerMs);
      } catch (err) {
        if (this.#stopped) return;
        this.#failed(err);
        cursor = "0"; // re-read what is unacknowledged once the database answers again
        await this.#sleep(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }

  #failed(err: unknown): void {
    if (this.#failingSince === null) {
      this.#failingSince = Date.now();
      this.log.warn(
        { err },
        "persistence paused: the database does not answer; Redis keeps working, history will catch up",
      );
    }
  }

  #recovered(): void {
    if (this.#failingSince !== null) {
      this.log.info({ pausedMs: Date.now() - this.#failingSince }, "persistence resumed");
      this.#failingSince = null;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
