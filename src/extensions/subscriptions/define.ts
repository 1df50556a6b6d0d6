import type { DomainEvent } from "../../contract/events.js";
import type { EmitFn } from "../../core/context.js";
import type { Logger } from "../../core/logger.js";
import { compilePatterns, fieldAt } from "./match.js";

/**
 * A subscription: a function run in the background for each domain event whose name matches
 * one of its patterns (and its filter), delivered once per cluster (see runner.ts). Made with
 * `defineSubscription`, from a plugin file, the workflow files, or `startServer({ subscriptions })`.
 */

export const SUBSCRIPTION_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

export interface BackoffSettings {
  /** Wait before the second attempt; each further attempt waits twice as long. */
  baseMs: number;
  /** Longest wait between two attempts. */
  maxMs: number;
}

/** What a subscriber receives with each event; `S`: the services of the server that runs it. */
export interface DeliveryContext<S = unknown> {
  readonly subscription: string;
  /**
   * The idempotence key of this delivery, `<subscription>:<event stream id>`: the same on every
   * attempt and on a redelivery after a crash, so a subscriber with side effects elsewhere can
   * recognise a delivery it already carried out.
   */
  readonly deliveryId: string;
  /** 1 on the first attempt. */
  readonly attempt: number;
  readonly log: Logger;
  readonly services: S;
  /** Publishes a domain event on the server's event stream. */
  readonly emit: EmitFn;
  /** Calls a handler through the dispatcher (transport `internal`, so policy middleware applies). */
  invoke(method: string, params: unknown): Promise<unknown>;
}

export interface SubscriptionDefinition<S = unknown> {
  name: string;
  /** Event names; `*` matches any run of characters (`hook.*`, `task.*`, `*`). */
  events: readonly string[];
  filter?: (event: DomainEvent) => boolean;
  /**
   * Events with the same key are handled in stream order, one at a time, across every server:
   * a function of the event or a field path such as `payload.sessionId`. An event without a
   * key (undefined, null) goes to partition 0.
   */
  partitionKey?: string | ((event: DomainEvent) => unknown);
  /** How many partitions keys are spread over (default 8); each is handled by one server at a time. */
  partitions?: number;
  /** Attempts before the delivery is parked among the dead letters (default 5). */
  maxAttempts?: number;
  backoff?: Partial<BackoffSettings>;
  /** Handle events only on the cluster's leader. */
  leaderOnly?: boolean;
  handle(event: DomainEvent, ctx: DeliveryContext<S>): Promise<void>;
}

export const SUBSCRIPTION_BRAND = Symbol.for("claudebench.subscription");

export interface Subscription<S = unknown> {
  readonly [SUBSCRIPTION_BRAND]: true;
  readonly name: string;
  readonly events: readonly string[];
  readonly partitions: number;
  readonly partitioned: boolean;
  readonly maxAttempts: number;
  readonly backoff: BackoffSettings;
  readonly leaderOnly: boolean;
  /** Whether the event is for this subscription (name pattern and filter). */
  matches(event: DomainEvent): boolean;
  /** The partition of the event (0 when the subscription is not partitioned). */
  partitionOf(event: DomainEvent): number;
  handle(event: DomainEvent, ctx: DeliveryContext<S>): Promise<void>;
}

const DEFAULT_BACKOFF: BackoffSettings = { baseMs: 1000, maxMs: 30_000 };

export class SubscriptionDefinitionError extends Error {
  override name = "SubscriptionDefinitionError";
}

/** Validates and fills in the defaults. A plain frozen value, recognisable by its brand. */
export function defineSubscription<S = unknown>(def: SubscriptionDefinition<S>): Subscription<S> {
  const fail = (why: string) => {
    throw new SubscriptionDefinitionError(`subscription ${JSON.stringify(def.name)}: ${why}`);
  };
  if (typeof def.name !== "string" || !SUBSCRIPTION_NAME.test(def.name))
    fail("name must be 1-64 of a-z 0-9 _ - (starting with a letter or digit)");
  if (!Array.isArray(def.events) || def.events.length === 0) fail("events must list at least one name");
  if (typeof def.handle !== "function") fail("handle must be a function");
  const partitions = def.partitions ?? 8;
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 256)
    fail("partitions must be an integer from 1 to 256");
  const maxAttempts = def.maxAttempts ?? 5;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 100)
    fail("maxAttempts must be an integer from 1 to 100");
  const backoff = { ...DEFAULT_BACKOFF, ...def.backoff };
  if (!(backoff.baseMs >= 0 && backoff.maxMs >= backoff.baseMs)) fail("backoff needs 0 <= baseMs <= maxMs");
  const named = compilePatterns(def.events);
  const { filter, partitionKey } = def;
  const keyOf =
    partitionKey === undefined
      ? null
      : typeof partitionKey === "function"
        ? partitionKey
        : (event: DomainEvent) => fieldAt(event, partitionKey);
  return Object.freeze({
    [SUBSCRIPTION_BRAND]: true as const,
    name: def.name,
    events: [...def.events],
    partitions: keyOf ? partitions : 1,
    partitioned: keyOf !== null,
    maxAttempts,
    backoff,
    leaderOnly: def.leaderOnly ?? false,
    matches: (event: DomainEvent) => named(event.event) && (!filter || filter(event)),
    partitionOf: (event: DomainEvent) => (keyOf ? partitionFor(keyOf(event), partitions) : 0),
    handle: def.handle,
  });
}

export const isSubscription = (value: unknown): value is Subscription =>
  typeof value === "object" &&
  value !== null &&
  (value as Record<symbol, unknown>)[SUBSCRIPTION_BRAND] === true;

/** FNV-1a of the key's text: the same partition in every process. */
export function partitionFor(key: unknown, partitions: number): number {
  if (key === undefined || key === null) return 0;
  const text = typeof key === "string" ? key : JSON.stringify(key);
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % partitions;
}
