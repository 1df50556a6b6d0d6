import type { Redis } from "ioredis";
import type { DomainEvent } from "../../contract/events.js";
import type { EmitFn } from "../../core/context.js";
import type { CallRequest } from "../../core/dispatch.js";
import { AppError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import type { Keys } from "../../storage/keys.js";
import { type DeliveryContext, type Subscription, SubscriptionDefinitionError } from "./define.js";
import { describeError, type RunnerSettings, type RunnerStats, SubscriptionRunner } from "./runner.js";
import { type DeadLetter, SubscriptionStore } from "./store.js";

/**
 * The subscriptions this server runs, grouped by where they come from (`workflows`, a plugin
 * file, `startServer({ subscriptions })`), so a source can be replaced as a whole when its
 * files change. Also what `system.subscriptions*` reports and acts on.
 */

interface SubscriptionServiceDeps {
  redis: Redis;
  keys: Keys;
  instanceId: string;
  log: Logger;
  settings: RunnerSettings;
  /** The dispatcher's `call`: subscribers' `ctx.invoke`. */
  call(request: CallRequest): Promise<unknown>;
  /** The server's services (built after this service, hence a function). */
  services(): unknown;
  /** Subscribers' `ctx.emit`: the server's event stream. */
  emit: EmitFn;
  isLeader(): boolean;
  members(): number;
}

export interface SubscriptionSummary {
  name: string;
  source: string;
  events: string[];
  partitions: number;
  partitioned: boolean;
  leaderOnly: boolean;
  maxAttempts: number;
  /** Entries of the stream the subscription's group(s) have not read yet (the slowest partition). */
  lag: number | null;
  /** Delivered to a server but not yet finished (running, or waiting for a retry). */
  pending: number;
  deadLetters: number;
  /** This server's own counts since it started. */
  local: RunnerStats;
}

interface RetryOutcome {
  retried: number;
  failed: { id: string; error: { code: string; message: string } }[];
}

export class SubscriptionService {
  readonly store: SubscriptionStore;
  readonly #runners = new Map<string, { runner: SubscriptionRunner; source: string }>();
  #installing: Promise<unknown> = Promise.resolve();
  #stopped = false;
  #onRunning: (running: boolean) => Promise<void> = async () => undefined;

  constructor(private readonly deps: SubscriptionServiceDeps) {
    this.store = new SubscriptionStore(deps.redis, deps.keys);
  }

  /**
   * Runs `subscriptions` as everything `source` provides, replacing what it provided before
   * (stopped first: attempts under way finish). Refuses, changing nothing, a name used twice.
   */
  install(source: string, subscriptions: readonly Subscription[]): Promise<void> {
    const run = this.#installing.then(() => this.#install(source, subscriptions));
    this.#installing = run.catch(() => undefined);
    return run;
  }

  /**
   * Told after every install whether any subscription runs now: the server feeds wake-ups
   * from the event tail only then, so that a server without subscriptions does not read and
   * parse every event.
   */
  onRunning(listener: (running: boolean) => Promise<void>): void {
    this.#onRunning = listener;
  }

  async #install(source: string, subscriptions: readonly Subscription[]): Promise<void> {
    if (this.#stopped) return;
    try {
      await this.#replace(source, subscriptions);
    } finally {
      await this.#onRunning(this.#runners.size > 0);
    }
  }

  async #replace(source: string, subscriptions: readonly Subscription[]): Promise<void> {
    const seen = new Set<string>();
    for (const sub of subscriptions) {
      const other = this.#runners.get(sub.name);
      if (seen.has(sub.name) || (other && other.source !== source)) {
        throw new SubscriptionDefinitionError(
          `subscription ${JSON.stringify(sub.name)} is defined twice (${other && other.source !== source ? `also by ${other.source}` : `in ${source}`})`,
        );
      }
      seen.add(sub.name);
    }
    const replaced = [...this.#runners].filter(([, r]) => r.source === source);
    for (const [name] of replaced) this.#runners.delete(name);
    await Promise.all(replaced.map(([, r]) => r.runner.stop()));
    for (const sub of subscriptions) {
      const runner = new SubscriptionRunner(sub, {
        redis: this.deps.redis,
        keys: this.deps.keys,
        store: this.store,
        consumer: this.deps.instanceId,
        log: this.deps.log,
        settings: this.deps.settings,
        deliver: (s, event, deliveryId, attempt) => this.#deliver(s, event, deliveryId, attempt),
        isLeader: this.deps.isLeader,
        members: this.deps.members,
      });
      await runner.start();
      this.#runners.set(sub.name, { runner, source });
    }
  }

  /** An event was appended: wake the subscriptions it is for (they also poll). */
  wake(event: DomainEvent): void {
    for (const { runner } of this.#runners.values()) if (runner.subscription.matches(event)) runner.notify();
  }

  /** Whether any subscription wants this event (the filter of the wake-up feed). */
  wants(event: DomainEvent): boolean {
    for (const { runner } of this.#runners.values()) if (runner.subscription.matches(event)) return true;
    return false;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#installing;
    await Promise.all([...this.#runners.values()].map((r) => r.runner.stop()));
    this.#runners.clear();
  }

  async describe(): Promise<SubscriptionSummary[]> {
    const groups = await this.store.groups();
    const entries = [...this.#runners.values()].sort((a, b) =>
      a.runner.subscription.name.localeCompare(b.runner.subscription.name),
    );
    return Promise.all(
      entries.map(async ({ runner, source }) => {
        const sub = runner.subscription;
        const infos = runner.groups.map((g) => groups.get(g));
        const lags = infos.map((i) => i?.lag ?? null);
        return {
          name: sub.name,
          source,
          events: [...sub.events],
          partitions: sub.partitions,
          partitioned: sub.partitioned,
          leaderOnly: sub.leaderOnly,
          maxAttempts: sub.maxAttempts,
          lag: lags.includes(null) ? null : Math.max(0, ...(lags as number[])),
          pending: infos.reduce((sum, i) => sum + (i?.pending ?? 0), 0),
          deadLetters: await this.store.deadCount(sub.name),
          local: { ...runner.stats },
        };
      }),
    );
  }

  /** The subscription's dead letters, oldest first. */
  deadLetters(name: string, limit: number): Promise<{ total: number; letters: DeadLetter[] }> {
    this.#get(name);
    return this.store.deadLetters(name, limit);
  }

  /**
   * Delivers dead letters once more, here and now (the given ones, or the oldest `limit`): one
   * that succeeds is removed, one that fails again stays parked with its new error.
   */
  async retry(name: string, ids: readonly string[] | null, limit = 100): Promise<RetryOutcome> {
    const sub = this.#get(name);
    const letters = ids
      ? (await Promise.all(ids.map((id) => this.store.getDeadLetter(name, id)))).flatMap((l) => l ?? [])
      : (await this.store.deadLetters(name, limit)).letters;
    const outcome: RetryOutcome = { retried: 0, failed: [] };
    for (const letter of letters) {
      const attempt = letter.attempts + 1;
      try {
        await this.#deliver(sub, letter.event, `${name}:${letter.id}`, attempt);
        await this.store.removeDeadLetters(name, [letter.id]);
        outcome.retried++;
      } catch (err) {
        const error = describeError(err);
        await this.store.updateDeadLetter(name, {
          ...letter,
          error,
          attempts: attempt,
          failedAt: new Date().toISOString(),
          consumer: this.deps.instanceId,
        });
        outcome.failed.push({ id: letter.id, error });
      }
    }
    return outcome;
  }

  /** Removes dead letters (all of them when `ids` is null). */
  drop(name: string, ids: readonly string[] | null): Promise<number> {
    this.#get(name);
    return this.store.removeDeadLetters(name, ids);
  }

  #get(name: string): Subscription {
    const entry = this.#runners.get(name);
    if (!entry) throw new AppError("NOT_FOUND", `No subscription named ${name} on this server`, { name });
    return entry.runner.subscription;
  }

  #deliver(sub: Subscription, event: DomainEvent, deliveryId: string, attempt: number): Promise<void> {
    const { call, log, services, emit } = this.deps;
    const ctx: DeliveryContext = {
      subscription: sub.name,
      deliveryId,
      attempt,
      get log() {
        return log.child({ subscription: sub.name, deliveryId, attempt });
      },
      services: services(),
      emit,
      // The delivery id names every call it makes (logs, audit trail).
      invoke: (method, params) =>
        call({ method, params, transport: "internal", meta: { correlationId: deliveryId } }),
    };
    return sub.handle(event, ctx);
  }
}
