import { defineHandler } from "../../core/handler.js";
import { metricsInput, metricsOutput } from "./schemas.js";

export const systemMetrics = defineHandler({
  name: "system.metrics",
  description:
    "Call counts, errors by code and latency percentiles measured by this server's dispatch pipeline, and its memory. Pass detailed: true for per-method figures.",
  input: metricsInput,
  output: metricsOutput,
  expose: { mcp: { annotations: { readOnlyHint: true, idempotentHint: false, openWorldHint: false } } },
  handle: async ({ detailed }, ctx) => {
    const methods = ctx.stats.snapshot();
    let calls = 0;
    let errors = 0;
    let latencySum = 0;
    for (const m of Object.values(methods)) {
      calls += m.calls;
      errors += m.errors;
      latencySum += m.latency.avgMs * m.calls;
    }
    const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
    return {
      eventsProcessed: calls,
      errors,
      averageLatency: calls ? Math.round((latencySum / calls) * 1000) / 1000 : 0,
      memoryUsage: heapUsed,
      memory: { rss, heapUsed, heapTotal, external },
      uptimeSeconds: Math.round((Date.now() - ctx.startedAt) / 1000),
      instanceId: ctx.instanceId,
      ...(detailed ? { methods } : {}),
    };
  },
});
