import type { AnyHandler } from "../core/handler.js";
import { systemDiscover } from "./system/discover.js";
import { systemHealth } from "./system/health.js";
import { systemMetrics } from "./system/metrics.js";
import { systemPing } from "./system/ping.js";
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
];
