/**
 * Every Redis key name the server uses is built here, from the configured prefix.
 *
 * The task queue's keys share one hash tag, `{tasks}`, so every multi-key script runs
 * unchanged on Redis Cluster. The queue's Lua scripts build the same names from `queue.base`
 * (see storage/lua/queue-prelude.lua, which must mirror `QueueKeys`). The event stream lives
 * under the same tag so that each task transition appends its event in the same atomic
 * script (the stream is also the outbox that persistence reads).
 */
export interface QueueKeys {
  /** `<prefix>:{tasks}:`, passed to every queue script as ARGV[1]. */
  readonly base: string;
  readonly seq: string;
  readonly fence: string;
  readonly pending: string;
  readonly delayed: string;
  readonly ttl: string;
  readonly leases: string;
  readonly dead: string;
  readonly finished: string;
  readonly all: string;
  readonly workers: string;
  readonly statWait: string;
  readonly statRun: string;
  task(id: string): string;
  channel(channel: string): string;
  status(status: string): string;
  worker(workerId: string): string;
  idempotency(key: string): string;
  completionsInMinute(minute: number): string;
  /** Tasks that became failed in that minute (dead-lettered or expired). */
  failuresInMinute(minute: number): string;
  /** Instances (agents, workers, sessions): records and liveness. */
  instance(id: string): string;
  /** The instance another name of it means (the original hook bridge's name of a session → `cc-<session id>`; string, expires). */
  instanceAlias(alias: string): string;
  readonly instances: string;
  readonly instancesAll: string;
  readonly autoAssign: string;
  /** Leadership among server processes: '<owner>|<epoch>', and the epoch counter. */
  readonly leader: string;
  readonly leaderEpoch: string;
  quorum(decision: string): string;
  batch(batchId: string): string;
  /** Server processes: zset id → last beat; one hash each (url, view of the others, partition flag). */
  readonly servers: string;
  server(serverId: string): string;
  /** A server process's published call statistics (for cluster-wide metrics). */
  serverMetrics(serverId: string): string;
}

export interface Keys {
  readonly prefix: string;
  /** Stream of JSON-RPC requests executed by exactly one server (consumer group `rpcGroup`). */
  rpcRequests(): string;
  /** Consumer group name on the request stream shared by every server process. */
  readonly rpcGroup: string;
  /** List on which the reply to request `replyId` is pushed for the caller waiting on it. */
  rpcReply(replyId: string): string;
  /** Marker of a request being (or having been) executed, for duplicate detection. */
  rpcSeen(requestKey: string): string;
  /** Capped stream of every domain event. */
  events(): string;
  /** Capped stream of audit records (state-changing calls), written in batches. */
  audit(): string;
  readonly queue: QueueKeys;
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
export interface SubscriptionKeys {
  /** Consumer group on the event stream: `sub:<name>`, or `sub:<name>:p<i>` for partition i (not a key). */
  group(name: string, partition?: number): string;
  /** Lease of one partition of a partitioned subscription: the owning server process (string, expires). */
  partitionOwner(name: string, partition: number): string;
  /** Dead letters: zset stream id → time parked, and hash stream id → record JSON. */
  dead(name: string): string;
  deadRecords(name: string): string;
}

/** Claude Code sessions beyond their instance record: project roles and inboxes. */
export interface SessionKeys {
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

function queueKeys(prefix: string): QueueKeys {
  const base = `${prefix}:{tasks}:`;
  return {
    base,
    seq: `${base}seq`,
    fence: `${base}fence`,
    pending: `${base}pending`,
    delayed: `${base}delayed`,
    ttl: `${base}ttl`,
    leases: `${base}leases`,
    dead: `${base}dead`,
    finished: `${base}finished`,
    all: `${base}all`,
    workers: `${base}workers`,
    statWait: `${base}stat:wait`,
    statRun: `${base}stat:run`,
    task: (id) => `${base}t:${id}`,
    channel: (channel) => `${base}pending:ch:${channel}`,
    status: (status) => `${base}st:${status}`,
    worker: (workerId) => `${base}w:${workerId}`,
    idempotency: (key) => `${base}idem:${key}`,
    completionsInMinute: (minute) => `${base}stat:done:${minute}`,
    failuresInMinute: (minute) => `${base}stat:failed:${minute}`,
    instance: (id) => `${base}inst:${id}`,
    instanceAlias: (alias) => `${base}inst-alias:${alias}`,
    instances: `${base}instances`,
    instancesAll: `${base}instances:all`,
    autoAssign: `${base}autoassign`,
    leader: `${base}leader`,
    leaderEpoch: `${base}leader:epoch`,
    quorum: (decision) => `${base}quorum:${decision}`,
    batch: (batchId) => `${base}batch:${batchId}`,
    servers: `${base}servers`,
    server: (serverId) => `${base}server:${serverId}`,
    serverMetrics: (serverId) => `${base}metrics:${serverId}`,
  };
}

export function createKeys(prefix: string): Keys {
  const queue = queueKeys(prefix);
  return {
    prefix,
    rpcRequests: () => `${prefix}:rpc:requests`,
    rpcGroup: "servers",
    rpcReply: (replyId) => `${prefix}:rpc:reply:${replyId}`,
    rpcSeen: (requestKey) => `${prefix}:rpc:seen:${requestKey}`,
    events: () => `${queue.base}events`,
    audit: () => `${prefix}:audit`,
    queue,
    policy: {
      rateWindow: (method, actor) => `${prefix}:{rl:${method}}:${actor}`,
      breaker: (method) => `${prefix}:{cb:${method}}`,
      breakerChannel: `${prefix}:breaker`,
      cache: (method) => `${prefix}:{cache:${method}}`,
    },
    subscriptions: {
      group: (name, partition) => (partition === undefined ? `sub:${name}` : `sub:${name}:p${partition}`),
      partitionOwner: (name, partition) => `${queue.base}sub:${name}:p${partition}:owner`,
      dead: (name) => `${queue.base}sub:${name}:dead`,
      deadRecords: (name) => `${queue.base}sub:${name}:dead:records`,
    },
    diagnosticRecord: (name) => `${prefix}:test:record:${name}`,
    sessions: {
      master: (project) => `${queue.base}session:master:${project}`,
      inbox: (sessionId) => `${queue.base}session:inbox:${sessionId}`,
      inboxDedupe: (key) => `${queue.base}session:inbox:seen:${key}`,
    },
  };
}
