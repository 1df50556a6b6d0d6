import type { Redis } from "ioredis";
import type { DomainEvent } from "../../contract/events.js";
import type { Keys } from "../../storage/keys.js";
import { LuaScript } from "../../storage/lua-script.js";

/**
 * The Redis side of subscriptions: consumer groups on the event stream (one per subscription,
 * or per partition), acknowledgements, and the dead letters. Every multi-step change is one
 * script (storage/lua/*Subscription*, touchDelivery, deadLetterDelivery).
 */

const CREATE_GROUPS = LuaScript.fromFile("createSubscriptionGroups-1.lua");
const TOUCH = LuaScript.fromFile("touchDelivery-1.lua");
const DEAD_LETTER = LuaScript.fromFile("deadLetterDelivery-3.lua");

export type RawEntry = [string, string[] | null];

/** A parked delivery: the event as it was, the last error, when and where it gave up. */
export interface DeadLetter {
  id: string;
  event: DomainEvent;
  error: { code: string; message: string };
  attempts: number;
  failedAt: string;
  consumer: string;
}

interface GroupInfo {
  pending: number;
  /** Entries not yet read by the group (null when Redis cannot tell, e.g. after trimming). */
  lag: number | null;
}

export class SubscriptionStore {
  readonly stream: string;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {
    this.stream = keys.events();
  }

  group(name: string, partition?: number): string {
    return this.keys.subscriptions.group(name, partition);
  }

  /** Creates the groups that do not exist yet, all at the stream's current end. */
  async ensureGroups(groups: readonly string[]): Promise<number> {
    return Number(await CREATE_GROUPS.run(this.redis, [this.stream], groups));
  }

  /** Entries for this consumer: its own pending ones after `cursor` (an id), or new ones (`>`). */
  async read(
    conn: Redis,
    group: string,
    consumer: string,
    cursor: string,
    count: number,
  ): Promise<RawEntry[]> {
    const reply = (await conn.xreadgroup(
      "GROUP",
      group,
      consumer,
      "COUNT",
      count,
      "STREAMS",
      this.stream,
      cursor,
    )) as [string, RawEntry[]][] | null;
    return reply?.[0]?.[1] ?? [];
  }

  /** Takes over entries pending for longer than `minIdleMs` (0: all of them), one page from `start`. */
  async autoclaim(
    group: string,
    consumer: string,
    minIdleMs: number,
    start: string,
    count: number,
  ): Promise<{ next: string; entries: RawEntry[] }> {
    const [next, entries] = (await this.redis.xautoclaim(
      this.stream,
      group,
      consumer,
      minIdleMs,
      start,
      "COUNT",
      count,
    )) as [string, RawEntry[]];
    return { next, entries };
  }

  async ack(group: string, ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.redis.xack(this.stream, group, ...ids);
  }

  /** False when the entry is no longer this consumer's to deliver. */
  async touch(group: string, consumer: string, id: string): Promise<boolean> {
    return Number(await TOUCH.run(this.redis, [this.stream], [group, consumer, id])) === 1;
  }

  /** Acknowledges the entry and parks it; false when it was no longer this consumer's. */
  async deadLetter(
    subscription: string,
    group: string,
    consumer: string,
    record: DeadLetter,
  ): Promise<boolean> {
    const [parked] = (await DEAD_LETTER.run(
      this.redis,
      [
        this.stream,
        this.keys.subscriptions.dead(subscription),
        this.keys.subscriptions.deadRecords(subscription),
      ],
      [group, consumer, record.id, JSON.stringify(record)],
    )) as [number];
    return parked === 1;
  }

  /** The oldest dead letters first, at most `limit`. */
  async deadLetters(subscription: string, limit: number): Promise<{ total: number; letters: DeadLetter[] }> {
    const k = this.keys.subscriptions;
    const [total, ids] = await Promise.all([
      this.redis.zcard(k.dead(subscription)),
      this.redis.zrange(k.dead(subscription), 0, limit - 1),
    ]);
    if (ids.length === 0) return { total, letters: [] };
    const records = await this.redis.hmget(k.deadRecords(subscription), ...ids);
    return { total, letters: records.flatMap((r) => (r ? [JSON.parse(r) as DeadLetter] : [])) };
  }

  async getDeadLetter(subscription: string, id: string): Promise<DeadLetter | null> {
    const record = await this.redis.hget(this.keys.subscriptions.deadRecords(subscription), id);
    return record ? (JSON.parse(record) as DeadLetter) : null;
  }

  /** Replaces a dead letter's record (a retry that failed again). */
  async updateDeadLetter(subscription: string, record: DeadLetter): Promise<void> {
    await this.redis.hset(
      this.keys.subscriptions.deadRecords(subscription),
      record.id,
      JSON.stringify(record),
    );
  }

  /** Removes dead letters (all of them when `ids` is null); resolves with how many there were. */
  async removeDeadLetters(subscription: string, ids: readonly string[] | null): Promise<number> {
    const k = this.keys.subscriptions;
    if (ids === null) {
      // One MULTI without reads in between: the count and both deletions in one step.
      const replies = await this.redis
        .multi()
        .zcard(k.dead(subscription))
        .del(k.dead(subscription), k.deadRecords(subscription))
        .exec();
      return Number(replies?.[0]?.[1] ?? 0);
    }
    if (ids.length === 0) return 0;
    const replies = await this.redis
      .multi()
      .zrem(k.dead(subscription), ...ids)
      .hdel(k.deadRecords(subscription), ...ids)
      .exec();
    return Number(replies?.[0]?.[1] ?? 0);
  }

  async deadCount(subscription: string): Promise<number> {
    return this.redis.zcard(this.keys.subscriptions.dead(subscription));
  }

  /** Pending and lag of every group on the event stream, by group name. */
  async groups(): Promise<Map<string, GroupInfo>> {
    let rows: unknown[][];
    try {
      rows = (await this.redis.xinfo("GROUPS", this.stream)) as unknown[][];
    } catch (err) {
      if (String((err as Error).message).includes("no such key")) return new Map();
      throw err;
    }
    const out = new Map<string, GroupInfo>();
    for (const row of rows) {
      const fields = new Map<string, unknown>();
      for (let i = 0; i + 1 < row.length; i += 2) fields.set(String(row[i]), row[i + 1]);
      const lag = fields.get("lag");
      out.set(String(fields.get("name")), {
        pending: Number(fields.get("pending") ?? 0),
        lag: lag === null || lag === undefined ? null : Number(lag),
      });
    }
    return out;
  }
}
