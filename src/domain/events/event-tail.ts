import type { Redis } from "ioredis";
import type { DomainEvent, EventFeed, EventFilter, EventSubscription } from "../../contract/events.js";
import type { Logger } from "../../core/logger.js";
import type { Keys } from "../../storage/keys.js";
import { blockingConnection } from "../../storage/redis.js";
import { parseEventEntry } from "./event-log.js";

/**
 * Fans the capped event stream out to local subscribers (SSE clients, later WebSocket and
 * the relay). One blocking XREAD per server process, started on the first subscriber, so
 * every process sees every event, whichever process emitted it. A subscriber may resume
 * after a stream id (SSE `Last-Event-ID`): it is replayed from the stream, then joins the
 * live feed without a gap or a duplicate. The replay reads the stream page by page and waits
 * for the subscriber's `ready` between events, so a client far behind is fed at the pace it
 * reads instead of having the whole backlog buffered for it at once.
 */

type RawEntry = [string, string[]];

interface Subscriber {
  filter: EventFilter;
  deliver: (event: DomainEvent) => void;
  /** Live events held back while the replay runs; `null` once live. */
  backlog: DomainEvent[] | null;
  /** Id of the last event delivered (for de-duplication at the replay/live seam). */
  lastId: string;
}

const BLOCK_MS = 5000;
const REPLAY_PAGE = 500;

/** Stream ids are `<ms>-<seq>`: compare numerically, part by part. */
export function compareStreamIds(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split("-").map(Number);
  const [bMs = 0, bSeq = 0] = b.split("-").map(Number);
  return aMs - bMs || aSeq - bSeq;
}

export class EventTail implements EventFeed {
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

  /** Starts delivering events; resolves once the replay is done with the function that stops it. */
  async subscribe({ filter, deliver, afterId, ready }: EventSubscription): Promise<() => void> {
    const subscriber: Subscriber = {
      filter,
      deliver,
      backlog: afterId ? [] : null,
      lastId: afterId ?? "0-0",
    };
    const unsubscribe = () => {
      this.#subscribers.delete(subscriber);
    };
    this.#subscribers.add(subscriber);
    try {
      await this.start();
      if (afterId && !(await this.#replay(subscriber, afterId, ready))) unsubscribe();
    } catch (err) {
      unsubscribe();
      throw err;
    }
    return unsubscribe;
  }

  /**
   * Resolves once this process tails the stream: every event appended from then on reaches
   * the subscribers added from then on. (subscribe adds its subscriber before its first await.)
   */
  start(): Promise<void> {
    this.#starting ??= this.#start().catch((err) => {
      this.#starting = null; // let the next subscriber try again
      throw err;
    });
    return this.#starting;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#subscribers.clear();
    await this.#starting?.catch(() => undefined);
    this.#conn?.disconnect();
    await this.#loop;
  }

  /** Returns false when the subscriber went away during the replay. */
  async #replay(
    subscriber: Subscriber,
    afterId: string,
    ready?: EventSubscription["ready"],
  ): Promise<boolean> {
    let after = afterId;
    for (;;) {
      const entries = (await this.redis.xrange(
        this.keys.events(),
        `(${after}`,
        "+",
        "COUNT",
        REPLAY_PAGE,
      )) as RawEntry[];
      for (const entry of entries) {
        this.#offer(subscriber, parseEventEntry(entry));
        const go = ready?.() ?? true;
        if (go !== true && !(await go)) return false;
      }
      const last = entries.at(-1);
      if (!last || entries.length < REPLAY_PAGE) break;
      after = last[0];
    }
    const backlog = subscriber.backlog ?? [];
    subscriber.backlog = null;
    for (const event of backlog) this.#offer(subscriber, event);
    return true;
  }

  #offer(subscriber: Subscriber, event: DomainEvent | null): void {
    if (!event || compareStreamIds(event.id, subscriber.lastId) <= 0) return;
    subscriber.lastId = event.id;
    if (subscriber.filter(event)) subscriber.deliver(event);
  }

  async #start(): Promise<void> {
    if (this.#closed) return;
    const conn = await blockingConnection(this.redis, "event-tail");
    let newest: RawEntry[];
    try {
      newest = (await conn.xrevrange(this.keys.events(), "+", "-", "COUNT", 1)) as RawEntry[];
    } catch (err) {
      conn.disconnect();
      throw err;
    }
    this.#conn = conn;
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
      const entries = result?.[0]?.[1] ?? [];
      if (this.#subscribers.size === 0) {
        // Nobody listens (the last client left): keep the position, skip the parsing.
        lastId = entries.at(-1)?.[0] ?? lastId;
        continue;
      }
      for (const entry of entries) {
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
