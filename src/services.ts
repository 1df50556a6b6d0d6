import type { z } from "zod";
import type { CallContext } from "./core/context.js";
import {
  defineHandler as defineKernelHandler,
  type Handler,
  type HandlerDefinition,
} from "./core/handler.js";
import type { CallStats, ExportedStats } from "./core/metrics.js";
import type { Registry } from "./core/registry.js";
import type { AuditArchive } from "./domain/audit/record.js";
import type { AuditStream } from "./domain/audit/stream.js";
import type { Coordination } from "./domain/coordination/coordination.js";
import type { InstanceRegistry } from "./domain/coordination/instances.js";
import type { LeadershipState } from "./domain/coordination/leadership.js";
import type { ClusterView } from "./domain/coordination/membership.js";
import type { EventLog } from "./domain/events/event-log.js";
import type { TaskArchive } from "./domain/history/task-database.js";
import type { ProjectPolicies } from "./domain/policy/policy-file.js";
import type { SessionStore } from "./domain/sessions/session-store.js";
import type { TaskQueue } from "./domain/tasks/queue.js";
import type { QueueSampler } from "./domain/tasks/queue-sampler.js";
import type { HookChains } from "./extensions/hook-links/chain.js";
import {
  defineHookLink as defineKernelHookLink,
  type HookLink,
  type HookLinkDefinition,
  type HookPoint,
} from "./extensions/hook-links/link.js";
import type { PluginReport } from "./extensions/plugins/plugin-host.js";
import {
  defineSubscription as defineAnySubscription,
  type Subscription,
  type SubscriptionDefinition,
} from "./extensions/subscriptions/define.js";
import type { SubscriptionService } from "./extensions/subscriptions/service.js";
import type { DatabaseProbe } from "./storage/db/history-tables.js";
import type { DiagnosticLists } from "./storage/diagnostic-lists.js";

/**
 * The built-in server's services and its handlers' context. The composition root (server.ts)
 * builds one ServerServices; the dispatcher puts it on every call's context beside the
 * kernel's CallContext. Handlers, hook links and subscriptions (built-in or from plugins) are
 * made with this module's `defineHandler`, `defineHookLink` and `defineSubscription`, so that
 * their context is typed with these services.
 */

/** Server-wide services a handler may use; built once by the composition root. */
export interface ServerServices {
  /** This server process's id. */
  readonly instanceId: string;
  readonly version: string;
  readonly startedAt: number;
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
  readonly hookChains: HookChains<HandlerContext>;
  /** The circuit breakers as this process enforces them. */
  readonly circuits: CircuitView;
  /** Event subscriptions and workflows running in this process (system.subscriptions). */
  readonly subscriptions: SubscriptionService;
  /** What the plugin directory contributed and what it could not load. */
  readonly plugins: { report(): PluginReport };
  /** Redis (the store of queue and state) as system.health probes it. */
  readonly storeProbe: RedisProbe;
  /** The recent events of the capped event stream (system.get_state). */
  readonly eventLog: Pick<EventLog, "recent">;
  /** The capped audit stream (system.audit without a database). */
  readonly auditStream: AuditStream;
  /** Per-session inboxes, roles and todo lists. */
  readonly sessions: SessionStore;
  /** Quorum votes and coordinated batches. */
  readonly coordination: Coordination;
  /** The lists the diagnostic handler test.record appends to. */
  readonly diagnostics: DiagnosticLists;
}

interface RedisProbe {
  /** Resolves with the round-trip time in ms; rejects when Redis cannot answer. */
  ping(): Promise<number>;
}

/** What `handle(input, ctx)` receives for one call: the kernel's context and the server's services. */
export type HandlerContext = CallContext & ServerServices;

/** `defineHandler` for this server's handlers and plugins: `ctx` carries the services above. */
export function defineHandler<I extends z.ZodType, O extends z.ZodType>(
  def: HandlerDefinition<I, O, HandlerContext>,
): Handler<I, O, HandlerContext> {
  return defineKernelHandler(def);
}

/** `defineHookLink` for this server: a link's `ctx.call` is the hook call's HandlerContext. */
export function defineHookLink<P extends HookPoint>(
  def: HookLinkDefinition<P, HandlerContext>,
): HookLink<P, HandlerContext> {
  return defineKernelHookLink(def);
}

/** `defineSubscription` for this server: a delivery's `ctx.services` are the services above. */
export function defineSubscription(
  def: SubscriptionDefinition<ServerServices>,
): Subscription<ServerServices> {
  return defineAnySubscription(def);
}

interface CircuitView {
  states(): Record<string, { state: "closed" | "open" | "half_open"; openUntil: number }>;
}

interface ClusterInfo {
  view(): ClusterView;
  leadership(): LeadershipState;
  /** How long this process has led without a break (0 when it does not lead). */
  ledForMs(): number;
  /** Every member server process's own record. */
  servers(): Promise<Record<string, string>[]>;
  /** The call statistics each of `serverIds` published last, in that order (null: none). */
  publishedStats(serverIds: readonly string[]): Promise<(ExportedStats | null)[]>;
}
