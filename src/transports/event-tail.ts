import type { Redis } from "ioredis";
import type { Logger } from "../core/logger.js";
import { type DomainEvent, parseEventEntry } from "../storage/event-log.js";
import type { Keys } from "../storage/keys.js";
import { blockingConnection } from "../storage/redis.js";

/**
 * Fans the capped event stream out to local subscribers (SSE clients, later WebSocket and
 * the relay). One blocking XREAD per server process, started on the first subscriber, so
 * every process sees every event, whichever process emitted it. A subscriber may resume
 * after a stream id (SSE `Last-Event-ID`): it is replayed from the stream, then joins the
 * live feed without a gap or a duplicate.
 */

type RawEntry = [string, string[]];
export type EventFilter = (event: DomainEvent) => boolean;

interface Subscriber {
  filter: EventFilter;
  deliver: (event: DomainEvent) => void;
  /** Live events held back while the replay runs; `null` once live. */
  backlog: DomainEvent[] | null;
  /** Id of the last event delivered (for de-duplication at the replay/live seam). */
  lastId: string;
}

const BLOCK_MS = 5000;

/** Stream ids are `<ms>-<seq>`: compare numerically, part by part. */
export function compareStreamIds(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split("-").map(Number);
  const [bMs = 0, bSeq = 0] = b.split("-").map(Number);
  return aMs - bMs || aSeq - bSeq;
}

export class EventTail {
  readonly #subscribers = new Set<Subscriber>();
  #conn: Redis | null = null;
  #loop: Promise<void> | null = null;
  #starting: Promise<void> | null = null;
  #closed = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly log: Logger,
  ) {}

  /** Starts delivering events; returns the function that stops it. */
  async subscribe(filter: EventFilter, deliver: (event: DomainEvent) => void, afterId?: string) {
    const subscriber: Subscriber = {
      filter,
      deliver,
      backlog: afterId ? [] : null,
      lastId: afterId ?? "0-0",
    };
    this.#subscribers.add(subscriber);
    await this.#ensureRunning();
    if (afterId) await this.#replay(subscriber, afterId);
    return () => {
      this.#subscribers.delete(subscriber);
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#subscribers.clear();
    await this.#starting?.catch(() => undefined);
    this.#conn?.disconnect();
    await this.#loop;
  }

  async #replay(subscriber: Subscriber, afterId: string): Promise<void> {
    const entries = (await this.redis.xrange(this.keys.events(), `(${afterId}`, "+")) as RawEntry[];
    for (const entry of entries) this.#offer(subscriber, parseEventEntry(entry));
    const backlog = subscriber.backlog ?? [];
    subscriber.backlog = null;
    for (const event of backlog) this.#offer(subscriber, event);
  }

  #offer(subscriber: Subscriber, event: DomainEvent | null): void {
    if (!event || compareStreamIds(event.id, subscriber.lastId) <= 0) return;
    subscriber.lastId = event.id;
    if (subscriber.filter(event)) subscriber.deliver(event);
  }

  #ensureRunning(): Promise<void> {
    this.#starting ??= this.#start().catch((err) => {
      this.#starting = null; // let the next subscriber try again
      throw err;
    });
    return this.#starting;
  }

  async #start(): Promise<void> {
    if (this.#closed) return;
    const conn = await blockingConnection(this.redis, "event-tail");
    this.#conn = conn;
    const newest = (await conn.xrevrange(this.keys.events(), "+", "-", "COUNT", 1)) as RawEntry[];
    this.#loop = this.#run(conn, newest[0]?.[0] ?? "0-0");
  }

  async #run(conn: Redis, startAfter: string): Promise<void> {
    let lastId = startAfter;
    while (!this.#closed) {
      let result: [string, RawEntry[]][] | null;
      try {
        result = (await conn.xread("COUNT", 500, "BLOCK", BLOCK_MS, "STREAMS", this.keys.events(), lastId)) as
          | [string, RawEntry[]][]
          | null;
      } catch (err) {
        if (this.#closed) return;
        this.log.warn({ err }, "tailing the event stream failed; retrying");
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      for (const entry of result?.[0]?.[1] ?? []) {
        lastId = entry[0];
        const event = parseEventEntry(entry);
        if (!event) continue;
        for (const subscriber of this.#subscribers) {
          if (subscriber.backlog) subscriber.backlog.push(event);
          else this.#offer(subscriber, event);
        }
      }
    }
  }
}
