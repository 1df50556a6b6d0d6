import type { AnyHandler } from "../core/handler.js";
import { testCircuit } from "./diagnostics/circuit.js";
import { testRecord } from "./diagnostics/record.js";
import { hookClaude } from "./hook/claude.js";
import {
  hookAgentStop,
  hookEvent,
  hookNotification,
  hookPostTool,
  hookPreCompact,
} from "./hook/lifecycle.js";
import { hookPolicy } from "./hook/policy.js";
import { hookPreTool } from "./hook/pre-tool.js";
import { hookTodoWrite } from "./hook/todo-write.js";
import { hookUserPrompt } from "./hook/user-prompt.js";
import { sessionAnnotateTask } from "./session/annotate-task.js";
import { sessionInbox } from "./session/inbox.js";
import { sessionNotify } from "./session/notify.js";
import { sessionSetRole } from "./session/set-role.js";
import { systemActivity } from "./system/activity.js";
import { systemAudit } from "./system/audit.js";
import { systemBatchProcess } from "./system/batch-process.js";
import { systemCheckHealth } from "./system/check-health.js";
import { systemCircuits } from "./system/circuits.js";
import { systemDiscover } from "./system/discover.js";
import { systemGetState } from "./system/get-state.js";
import { systemHealth } from "./system/health.js";
import { systemHeartbeat } from "./system/heartbeat.js";
import { systemInstances } from "./system/instances.js";
import { systemMetrics } from "./system/metrics.js";
import { systemPing } from "./system/ping.js";
import { systemQuorumVote } from "./system/quorum-vote.js";
import { systemRegister } from "./system/register.js";
import {
  systemSubscriptions,
  systemSubscriptionsDeadLetters,
  systemSubscriptionsDrop,
  systemSubscriptionsRetry,
} from "./system/subscriptions.js";
import { systemUnregister } from "./system/unregister.js";
import { taskAssign } from "./task/assign.js";
import { taskCancel } from "./task/cancel.js";
import { taskClaim } from "./task/claim.js";
import { taskComplete } from "./task/complete.js";
import { taskCreate } from "./task/create.js";
import { taskDelete } from "./task/delete.js";
import { taskFail } from "./task/fail.js";
import { taskGet } from "./task/get.js";
import { taskList } from "./task/list.js";
import { taskRelease, taskUnassign } from "./task/release.js";
import { taskRenew } from "./task/renew.js";
import { taskRetry } from "./task/retry.js";
import { taskStats } from "./task/stats.js";
import { taskUpdate } from "./task/update.js";

/** Every built-in handler, explicitly. The registry is built from this list and nothing else. */
export const builtinHandlers: readonly AnyHandler[] = [
  systemHealth,
  systemPing,
  systemDiscover,
  systemMetrics,
  systemActivity,
  systemAudit,
  systemRegister,
  systemHeartbeat,
  systemUnregister,
  systemInstances,
  systemCheckHealth,
  systemGetState,
  systemQuorumVote,
  systemBatchProcess,
  systemCircuits,
  systemSubscriptions,
  systemSubscriptionsDeadLetters,
  systemSubscriptionsRetry,
  systemSubscriptionsDrop,
  taskCreate,
  taskGet,
  taskList,
  taskStats,
  taskUpdate,
  taskAssign,
  taskClaim,
  taskRenew,
  taskComplete,
  taskFail,
  taskRelease,
  taskUnassign,
  taskCancel,
  taskDelete,
  taskRetry,
  hookPreTool,
  hookPolicy,
  hookPostTool,
  hookUserPrompt,
  hookTodoWrite,
  hookAgentStop,
  hookNotification,
  hookPreCompact,
  hookClaude,
  hookEvent,
  sessionSetRole,
  sessionNotify,
  sessionInbox,
  sessionAnnotateTask,
];

/** Handlers served only when diagnostics are on (`--diagnostics`): they fail, sleep and record on demand. */
export const diagnosticHandlers = [testCircuit, testRecord];
