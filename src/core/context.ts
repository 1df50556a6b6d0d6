import type { Redis } from "ioredis";
import type { AuditArchive } from "../domain/audit/record.js";
import type { LeadershipState } from "../domain/cluster/leadership.js";
import type { ClusterView } from "../domain/cluster/membership.js";
import type { TaskArchive } from "../domain/history/task-database.js";
import type { HookChains } from "../domain/hooks/chain.js";
import type { InstanceRegistry } from "../domain/instances/registry.js";
import type { ProjectPolicies } from "../domain/policy/policy-file.js";
import type { TaskQueue } from "../domain/tasks/queue.js";
import type { SubscriptionService } from "../extensions/subscriptions/service.js";
import type { QueueSampler } from "../observability/queue-sampler.js";
import type { DatabaseProbe } from "../storage/db/history-tables.js";
import type { Keys } from "../storage/keys.js";
import type { Logger } from "./logger.js";
import type { CallStats } from "./metrics.js";
import type { Registry } from "./registry.js";

export type TransportName = "jsonrpc" | "http" | "mcp" | "events" | "internal";

/** Who is calling, as told by the caller (JSON-RPC `metadata`, HTTP `x-*` headers). */
export interface RequestMeta {
  sessionId?: string;
  instanceId?: string;
  correlationId?: string;
  /** The caller's request id (HTTP `x-request-id`), used as the call's request id. */
  requestId?: string;
  /** The client's address, set by the HTTP transport from the connection (never from the caller's metadata). */
  remoteAddress?: string;
}

/** Publishes a domain event on the capped event stream; resolves with the event's stream id. */
export type EmitFn = (event: string, payload: Record<string, unknown>) => Promise<string>;

/** Server-wide services a handler may use; built once by the composition root. */
export interface ServerServices {
  readonly redis: Redis;
  readonly keys: Keys;
  readonly log: Logger;
  /** This server process's id. */
  readonly instanceId: string;
  readonly version: string;
  readonly startedAt: number;
  readonly emit: EmitFn;
  /** The handlers this server serves (for discovery). */
  readonly registry: Registry;
  /** Calls, errors and latency per method, recorded by the dispatch pipeline. */
  readonly stats: CallStats;
  /** The queue sampled every 10 s over the last hour (system.activity). */
  readonly queueSamples: Pick<QueueSampler, "since">;
  /** The durable database, when one is configured. */
  readonly database: DatabaseProbe | null;
  /** The task queue (all transitions are atomic scripts). */
  readonly tasks: TaskQueue;
  /** Tasks no longer in Redis and the audit log, when persistence is on. */
  readonly archive: (TaskArchive & AuditArchive) | null;
  /** Registered agents, workers and sessions. */
  readonly instances: InstanceRegistry;
  /** This process's place in the cluster of server processes. */
  readonly cluster: ClusterInfo;
  /** Pre-tool and prompt policies, per project. */
  readonly policies: ProjectPolicies;
  /** The pre_tool, post_tool and user_prompt hook chains (the policy engine is one link). */
  readonly hookChains: HookChains;
  /** The circuit breakers as this process enforces them. */
  readonly circuits: CircuitView;
  /** Event subscriptions and workflows running in this process (system.subscriptions). */
  readonly subscriptions: SubscriptionService;
  /** What the plugin directory contributed and what it could not load. */
  readonly plugins: { report(): PluginReport };
}

/** The plugin directory as loaded now (plugins/plugin-host.ts). */
export interface PluginReport {
  /** The plugin directory, or null when there is none to load. */
  dir: string | null;
  watching: boolean;
  /** Each file that contributes something, with what (`{ kind: "handler", name: "hello.greet" }`). */
  files: { file: string; extensions: { kind: string; name: string }[] }[];
  /** Files that did not load and exports that were refused, each with its reason. */
  errors: { file: string; reason: string }[];
}

export interface CircuitView {
  states(): Record<string, { state: "closed" | "open" | "half_open"; openUntil: number }>;
}

export interface ClusterInfo {
  view(): ClusterView;
  leadership(): LeadershipState;
  /** How long this process has led without a break (0 when it does not lead). */
  ledForMs(): number;
  /** Every member server process's own record. */
  servers(): Promise<Record<string, string>[]>;
}

/** What `handle(input, ctx)` receives for one call. */
export interface HandlerContext extends ServerServices {
  readonly method: string;
  /** Names this call in logs and the audit trail: the caller's x-request-id or correlationId, else generated. */
  readonly requestId: string;
  /** A logger bound to this call (requestId, method, transport, sessionId, instanceId), made on first use. */
  readonly log: Logger;
  readonly transport: TransportName;
  readonly meta: RequestMeta;
  /** Aborted when the caller goes away or the call times out; long work should stop. */
  readonly signal: AbortSignal;
  /** Calls another handler through the same pipeline (validation, policy), as this caller. */
  invoke(method: string, params: unknown): Promise<unknown>;
}
