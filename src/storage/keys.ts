import { type RequestStreamKeys, requestStreamKeys } from "../contract/request-stream.js";
import { type CoordinationKeys, coordinationKeys } from "./coordination-keys.js";

/**
 * Every Redis key name the server uses is built here, from the configured prefix.
 *
 * The coordination keys (task queue, event stream, instances, leadership, ...) are defined in
 * coordination-keys.ts, from which the Lua scripts' key names are written out too. They share one
 * hash tag, `{tasks}`, so every multi-key script runs unchanged on Redis Cluster. The event
 * stream lives under the same tag so that each task transition appends its event in the same
 * atomic script (the stream is also the outbox that persistence reads).
 */
export interface Keys extends RequestStreamKeys {
  readonly prefix: string;
  /** Marker of a request being (or having been) executed, for duplicate detection. */
  rpcSeen(requestKey: string): string;
  /** Capped stream of every domain event. */
  events(): string;
  /** Capped stream of audit records (state-changing calls), written in batches. */
  audit(): string;
  readonly coordination: CoordinationKeys;
  readonly policy: PolicyKeys;
  readonly subscriptions: SubscriptionKeys;
  readonly sessions: SessionKeys;
  /** A list the diagnostics handler `test.record` appends to (served only with DIAGNOSTICS=on). */
  diagnosticRecord(name: string): string;
}

/**
 * Event subscriptions (extensions/subscriptions). Their keys share the event stream's hash
 * tag `{tasks}`: the dead-letter script acknowledges the stream entry and parks it in one step.
 */
interface SubscriptionKeys {
  /** Consumer group on the event stream: `sub:<name>`, or `sub:<name>:p<i>` for partition i (not a key). */
  group(name: string, partition?: number): string;
  /** Lease of one partition of a partitioned subscription: the owning server process (string, expires). */
  partitionOwner(name: string, partition: number): string;
  /** Dead letters: zset stream id → time parked, and hash stream id → record JSON. */
  dead(name: string): string;
  deadRecords(name: string): string;
}

/** Claude Code sessions beyond their instance record: project roles and inboxes. */
interface SessionKeys {
  /** The session id designated master of a project (string). */
  master(project: string): string;
  /** Messages waiting for a session, oldest first (list of JSON, capped, expires). */
  inbox(sessionId: string): string;
  /** Marks a message already delivered under this key (string, expires): replays add nothing. */
  inboxDedupe(key: string): string;
}

/**
 * Keys of the resilience middleware. Each method's keys share a hash tag of their own, so
 * the load spreads over a Redis Cluster and each script touches one slot.
 */
export interface PolicyKeys {
  /** Sliding-window log of one actor's admitted calls of one method (zset, score = ms). */
  rateWindow(method: string, actor: string): string;
  /** A method's circuit breaker: state, reopen time, probes, outcome buckets (hash). */
  breaker(method: string): string;
  /** Pub/sub channel on which breaker transitions are announced to every server process. */
  readonly breakerChannel: string;
  /** A read-only method's cached results: input digest → `<expiresAt>|<json>` (hash). */
  cache(method: string): string;
}

export function createKeys(prefix: string): Keys {
  const coordination = coordinationKeys(`${prefix}:{tasks}:`);
  return {
    prefix,
    ...requestStreamKeys(prefix),
    rpcSeen: (requestKey) => `${prefix}:rpc:seen:${requestKey}`,
    events: () => coordination.events,
    audit: () => `${prefix}:audit`,
    coordination,
    policy: {
      rateWindow: (method, actor) => `${prefix}:{rl:${method}}:${actor}`,
      breaker: (method) => `${prefix}:{cb:${method}}`,
      breakerChannel: `${prefix}:breaker`,
      cache: (method) => `${prefix}:{cache:${method}}`,
    },
    subscriptions: {
      group: (name, partition) => (partition === undefined ? `sub:${name}` : `sub:${name}:p${partition}`),
      partitionOwner: (name, partition) => `${coordination.base}sub:${name}:p${partition}:owner`,
      dead: (name) => `${coordination.base}sub:${name}:dead`,
      deadRecords: (name) => `${coordination.base}sub:${name}:dead:records`,
    },
    diagnosticRecord: (name) => `${prefix}:test:record:${name}`,
    sessions: {
      master: (project) => `${coordination.base}session:master:${project}`,
      inbox: (sessionId) => `${coordination.base}session:inbox:${sessionId}`,
      inboxDedupe: (key) => `${coordination.base}session:inbox:seen:${key}`,
    },
  };
}
