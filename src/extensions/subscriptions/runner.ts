import type { Redis } from "ioredis";
import type { DomainEvent } from "../../contract/events.js";
import { AppError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import { parseEventEntry } from "../../domain/events/event-log.js";
import type { Keys } from "../../storage/keys.js";
import { OwnedLock } from "../../storage/lock.js";
import type { BackoffSettings, Subscription } from "./define.js";
import type { DeadLetter, RawEntry, SubscriptionStore } from "./store.js";

/**
 * Delivers one subscription's events in this server process, in background loops (nothing
 * here runs on a request's path).
 *
 * Unpartitioned: one consumer group `sub:<name>` on the event stream, every server a consumer,
 * so each entry goes to one server. Up to `concurrency` deliveries run at once per server. The
 * entries a dead server was given stay pending in the group; every server takes over those idle
 * for `claimIdleMs` (XAUTOCLAIM), so none is lost: delivery is at least once, exactly once while
 * no server dies mid-delivery.
 *
 * Partitioned: events are spread by the hash of their key over P partitions, each its own
 * group `sub:<name>:p<i>` that reads the whole stream and keeps the events of its partition.
 * A partition is handled by the one server holding its lease (`claimIdleMs`, renewed while
 * held), one event at a time, in stream order; a failing event is retried in place, so later
 * events of its key wait behind it. A server holds at most its fair share ceil(P / servers) and
 * gives extras back, so partitions spread as servers join. A server that takes a partition over
 * first claims everything the previous holder left pending (it no longer holds the lease), and
 * reads those entries first, oldest first.
 *
 * A failed attempt is retried after min(base · 2^(attempt-1), max) ms (+0..20 % jitter); after
 * `maxAttempts` (at once for VALIDATION and METHOD_NOT_FOUND, which no retry can fix) the entry
 * is acknowledged and parked among the subscription's dead letters with its error, in one script.
 */

export interface RunnerSettings {
  /** Idle time after which another server takes a pending delivery over; also the partition lease. */
  claimIdleMs: number;
  /** Deliveries at once per server for an unpartitioned subscription. */
  concurrency: number;
}

interface RunnerDeps {
  redis: Redis;
  keys: Keys;
  store: SubscriptionStore;
  consumer: string;
  log: Logger;
  settings: RunnerSettings;
  /** Runs the subscriber once (throws when the attempt failed). */
  deliver(subscription: Subscription, event: DomainEvent, deliveryId: string, attempt: number): Promise<void>;
  isLeader(): boolean;
  /** Server processes in the cluster (for the partitions' fair share). */
  members(): number;
}

export interface RunnerStats {
  delivered: number;
  retried: number;
  deadLettered: number;
}

/** Errors no retry can fix: parked at once. */
const PERMANENT = new Set(["VALIDATION", "METHOD_NOT_FOUND"]);
const BATCH = 100;

function backoffDelay(backoff: BackoffSettings, attempt: number): number {
  const base = Math.min(backoff.baseMs * 2 ** (attempt - 1), backoff.maxMs);
  return Math.round(base * (1 + 0.2 * Math.random()));
}

export const describeError = (err: unknown): { code: string; message: string } =>
  err instanceof AppError
    ? { code: err.code, message: err.message }
    : { code: "INTERNAL", message: err instanceof Error ? err.message : String(err) };

/** A timer that `notify` cuts short; one per loop. */
class Waker {
  #resolve: (() => void) | null = null;
  #pending = false;

  notify(): void {
    if (this.#resolve) this.#resolve();
    else this.#pending = true;
  }

  wait(ms: number): Promise<void> {
    if (this.#pending) {
      this.#pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.#resolve = null;
        resolve();
      }
      this.#resolve = done;
    });
  }
}

export class SubscriptionRunner {
  readonly stats: RunnerStats = { delivered: 0, retried: 0, deadLettered: 0 };
  #stopped = false;
  readonly #wakers: Waker[] = [];
  /** Retries waiting out their backoff: only stop() cuts them short (new events must not). */
  readonly #sleepers = new Set<Waker>();
  readonly #loops: Promise<void>[] = [];
  /** Partitions whose lease this server holds. */
  readonly #held = new Map<number, OwnedLock>();
  #renewal: NodeJS.Timeout | null = null;
  readonly #pollMs: number;

  constructor(
    readonly subscription: Subscription,
    private readonly deps: RunnerDeps,
  ) {
    this.#pollMs = Math.max(20, Math.min(1000, Math.floor(deps.settings.claimIdleMs / 3)));
  }

  /** The consumer groups this subscription reads. */
  get groups(): string[] {
    const { subscription: s, deps } = this;
    return s.partitioned
      ? Array.from({ length: s.partitions }, (_, i) => deps.store.group(s.name, i))
      : [deps.store.group(s.name)];
  }

  async start(): Promise<void> {
    await this.deps.store.ensureGroups(this.groups);
    if (this.subscription.partitioned) {
      for (let i = 0; i < this.subscription.partitions; i++) this.#spawn((w) => this.#partition(i, w));
      this.#renewal = setInterval(() => void this.#renew(), this.#pollMs);
    } else {
      this.#spawn((w) => this.#shared(w));
    }
  }

  /** New events may be waiting. */
  notify(): void {
    for (const waker of this.#wakers) waker.notify();
  }

  /** Lets running attempts finish, leaves the rest pending (others take it over), gives the leases back. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#renewal) clearInterval(this.#renewal);
    this.notify();
    for (const sleeper of this.#sleepers) sleeper.notify();
    await Promise.all(this.#loops);
  }

  #spawn(loop: (waker: Waker) => Promise<void>): void {
    const waker = new Waker();
    this.#wakers.push(waker);
    this.#loops.push(loop(waker));
  }

  #failed(err: unknown, what: string): void {
    if (!this.#stopped) this.deps.log.warn({ err, subscription: this.subscription.name }, what);
  }

  async #shared(waker: Waker): Promise<void> {
    const { store, consumer, settings, redis } = this.deps;
    const sub = this.subscription;
    const group = store.group(sub.name);
    const inflight = new Map<string, Promise<void>>();
    let cursor = "0"; // first what this consumer was given before (a restart under the same id)
    let lastClaim = 0;
    while (!this.#stopped) {
      try {
        if (sub.leaderOnly && !this.deps.isLeader()) {
          await waker.wait(this.#pollMs);
          continue;
        }
        const entries: RawEntry[] = [];
        if (Date.now() - lastClaim >= settings.claimIdleMs / 2) {
          lastClaim = Date.now();
          entries.push(
            ...(await store.autoclaim(group, consumer, settings.claimIdleMs, "0-0", BATCH)).entries,
          );
        }
        const free = settings.concurrency - inflight.size;
        if (free > 0) {
          const read = await store.read(redis, group, consumer, cursor, Math.min(free, BATCH));
          if (cursor !== ">") cursor = read.at(-1)?.[0] ?? ">";
          entries.push(...read);
        }
        const skipped: string[] = [];
        let started = 0;
        for (const entry of entries) {
          const id = entry[0];
          if (inflight.has(id)) continue;
          const event = this.#parse(entry);
          if (!event || !sub.matches(event)) {
            skipped.push(id);
            continue;
          }
          started++;
          const delivery = this.#deliver(group, event, true).finally(() => {
            inflight.delete(id);
            waker.notify();
          });
          inflight.set(id, delivery);
        }
        await store.ack(group, skipped);
        if ((started === 0 && skipped.length === 0) || inflight.size >= settings.concurrency)
          await waker.wait(this.#pollMs);
      } catch (err) {
        this.#failed(err, "subscription loop failed; retrying");
        await waker.wait(this.#pollMs);
      }
    }
    await Promise.all(inflight.values());
  }

  /** Partitions this server may hold: its fair share of them. */
  #share(): number {
    return Math.ceil(this.subscription.partitions / Math.max(1, this.deps.members()));
  }

  async #partition(partition: number, waker: Waker): Promise<void> {
    const { store, consumer, settings, redis, keys } = this.deps;
    const sub = this.subscription;
    const group = store.group(sub.name, partition);
    const lock = new OwnedLock(redis, keys.subscriptions.partitionOwner(sub.name, partition), consumer);
    let cursor = "0";
    while (!this.#stopped) {
      try {
        const eligible = !sub.leaderOnly || this.deps.isLeader();
        if (!this.#held.has(partition)) {
          if (!eligible || this.#held.size >= this.#share() || !(await lock.acquire(settings.claimIdleMs))) {
            await waker.wait(this.#pollMs);
            continue;
          }
          this.#held.set(partition, lock);
          await this.#takeOver(group);
          cursor = "0";
        } else if (!eligible || this.#held.size > this.#share()) {
          this.#held.delete(partition);
          await lock.release();
          continue;
        }
        const entries = await store.read(redis, group, consumer, cursor, BATCH);
        if (cursor !== ">") cursor = entries.at(-1)?.[0] ?? ">";
        if (entries.length === 0) {
          if (cursor === ">") await waker.wait(this.#pollMs);
          continue;
        }
        let skipped: string[] = [];
        for (const entry of entries) {
          if (this.#stopped || !this.#held.has(partition)) break;
          const event = this.#parse(entry);
          if (!event || !sub.matches(event) || sub.partitionOf(event) !== partition) {
            skipped.push(entry[0]);
            continue;
          }
          await store.ack(group, skipped);
          skipped = [];
          await this.#deliver(group, event, false, () => this.#held.has(partition));
        }
        await store.ack(group, skipped);
      } catch (err) {
        this.#failed(err, "subscription partition loop failed; retrying");
        await waker.wait(this.#pollMs);
      }
    }
    if (this.#held.delete(partition)) await lock.release().catch(() => undefined);
  }

  /** Claims every entry left pending in the group: the previous holder of the lease is gone. */
  async #takeOver(group: string): Promise<void> {
    let start = "0-0";
    do {
      ({ next: start } = await this.deps.store.autoclaim(group, this.deps.consumer, 0, start, BATCH));
    } while (start !== "0-0");
  }

  /** Extends every held lease; a lease that could not be extended is given up. */
  async #renew(): Promise<void> {
    for (const [partition, lock] of this.#held) {
      try {
        if (!(await lock.acquire(this.deps.settings.claimIdleMs))) {
          this.#held.delete(partition);
          this.deps.log.warn(
            { subscription: this.subscription.name, partition },
            "lost a partition lease; another server takes the partition over",
          );
        }
      } catch (err) {
        this.#failed(err, "renewing a partition lease failed");
      }
    }
  }

  #parse(entry: RawEntry): DomainEvent | null {
    const event = parseEventEntry(entry);
    if (!event && !entry[1]) {
      this.deps.log.error(
        { subscription: this.subscription.name, id: entry[0] },
        "an event was trimmed from the stream before it was delivered (raise EVENT_STREAM_MAXLEN)",
      );
    }
    return event;
  }

  /**
   * Delivers one event with its retries. `stillOurs` (partitions: the lease is held) is asked
   * before each retry; unpartitioned deliveries touch their pending entry instead, which also
   * keeps other servers from taking it over while it waits.
   */
  async #deliver(
    group: string,
    event: DomainEvent,
    shared: boolean,
    stillOurs?: () => boolean,
  ): Promise<void> {
    const { store, consumer, settings, log } = this.deps;
    const sub = this.subscription;
    const deliveryId = `${sub.name}:${event.id}`;
    for (let attempt = 1; ; attempt++) {
      let error: unknown;
      try {
        await this.deps.deliver(sub, event, deliveryId, attempt);
      } catch (err) {
        error = err ?? new Error("failed");
      }
      try {
        if (error === undefined) {
          await store.ack(group, [event.id]);
          this.stats.delivered++;
          return;
        }
        const permanent = error instanceof AppError && PERMANENT.has(error.code);
        if (attempt >= sub.maxAttempts || permanent) {
          const record: DeadLetter = {
            id: event.id,
            event,
            error: describeError(error),
            attempts: attempt,
            failedAt: new Date().toISOString(),
            consumer,
          };
          if (await store.deadLetter(sub.name, group, consumer, record)) {
            this.stats.deadLettered++;
            log.warn(
              { subscription: sub.name, deliveryId, error: record.error, attempts: attempt },
              "dead-lettered",
            );
          }
          return;
        }
        this.stats.retried++;
        log.debug({ subscription: sub.name, deliveryId, attempt, err: error }, "delivery failed; retrying");
        if (this.#stopped) return; // left pending: taken over by another server
        const delay = backoffDelay(sub.backoff, attempt);
        if (shared && !(await store.touch(group, consumer, event.id))) return;
        // An unpartitioned delivery waits less than the idle time, so nobody takes it over meanwhile.
        await this.#sleep(shared ? Math.min(delay, settings.claimIdleMs / 2) : delay);
        if (this.#stopped || (stillOurs && !stillOurs())) return;
        if (shared && !(await store.touch(group, consumer, event.id))) return;
      } catch (err) {
        // Redis did not answer: the entry stays pending and is delivered again later.
        this.#failed(err, "recording a delivery's outcome failed; it will be delivered again");
        return;
      }
    }
  }

  /** Sleeps, cut short by stop(). */
  #sleep(ms: number): Promise<void> {
    const sleeper = new Waker();
    this.#sleepers.add(sleeper);
    return sleeper.wait(ms).finally(() => this.#sleepers.delete(sleeper));
  }
}
