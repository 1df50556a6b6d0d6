/**
 * The public API of the `claudebench` package: what plugins, workers and embedding
 * programs import. The server itself starts from `startServer` (or the CLI).
 */

/** The zod a handler's schemas are written with: plugins outside a project import it from here. */
export { z } from "zod";
export { ClaudeBenchClient, ClaudeBenchError, type ClientOptions } from "./client/http-client.js";
export { RedisRpcClient } from "./client/redis-rpc.js";
export { ShellWorker, type ShellWorkerOptions } from "./client/worker.js";
export { type Config, loadConfig } from "./config.js";
export type { DomainEvent } from "./contract/events.js";
export type { Task, TaskStatus } from "./contract/tasks.js";
export type { CallContext, RequestMeta } from "./core/context.js";
export { AppError, type ErrorCode } from "./core/errors.js";
export type { AnyHandler, Handler, HandlerPolicy } from "./core/handler.js";
export { DEFAULT_QUEUE_SETTINGS, type QueueSettings, TaskQueue } from "./domain/tasks/queue.js";
export { type ChainDecision, HookChains, type LinkRecord } from "./extensions/hook-links/chain.js";
export {
  type HookLink,
  type HookLinkContext,
  type HookLinkDefinition,
  type HookPoint,
  isHookLink,
  type PostToolInput,
  type PreToolInput,
  type PreToolVerdict,
  type PromptInput,
  type ReportVerdict,
} from "./extensions/hook-links/link.js";
export type {
  ExtensionContext,
  ExtensionItem,
  ExtensionKind,
  Refusal,
} from "./extensions/plugins/extension-kind.js";
export {
  type BackoffSettings,
  type DeadLetter,
  type DeliveryContext,
  isSubscription,
  SUBSCRIPTION_BRAND,
  type Subscription,
  type SubscriptionDefinition,
} from "./extensions/subscriptions/index.js";
export type { Workflow } from "./extensions/workflows/schema.js";
export { builtinHandlers } from "./handlers/index.js";
export { type RunningServer, type StartOptions, startServer } from "./server.js";
export {
  defineHandler,
  defineHookLink,
  defineSubscription,
  type HandlerContext,
  type ServerServices,
} from "./services.js";
export { createKeys, type Keys } from "./storage/keys.js";
