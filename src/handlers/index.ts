import type { AnyHandler } from "../core/handler.js";
import { systemDiscover } from "./system/discover.js";
import { systemHealth } from "./system/health.js";
import { systemMetrics } from "./system/metrics.js";
import { systemPing } from "./system/ping.js";

/** Every built-in handler, explicitly. The registry is built from this list and nothing else. */
export const builtinHandlers: readonly AnyHandler[] = [
  systemHealth,
  systemPing,
  systemDiscover,
  systemMetrics,
];
