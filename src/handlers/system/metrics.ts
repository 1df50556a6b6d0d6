import { defineHandler } from "../../core/handler.js";
import { CallStats, type ExportedStats, type MethodStats } from "../../core/metrics.js";
import { TASK_STATUSES } from "../../domain/tasks/model.js";
import { metricsInput, metricsOutput } from "./schemas.js";

function totals(methods: Record<string, MethodStats>) {
  let calls = 0;
  let errors = 0;
  let latencySum = 0;
  for (const m of Object.values(methods)) {
    calls += m.calls;
    errors += m.errors;
    latencySum += m.latency.avgMs * m.calls;
  }
  return { calls, errors, averageLatency: calls ? Math.round((latencySum / calls) * 1000) / 1000 : 0 };
}

export const systemMetrics = defineHandler({
  name: "system.metrics",
  description:
    "Cluster-wide figures from every live server process: calls, errors by code, latency percentiles, tasks by status and completions per minute. detailed: true adds per-method and per-server rows.",
  input: metricsInput,
  output: metricsOutput,
  expose: { mcp: { annotations: { readOnlyHint: true, idempotentHint: false, openWorldHint: false } } },
  handle: async ({ detailed }, ctx) => {
    const q = ctx.keys.coordination;
    const servers = (await ctx.cluster.servers())
      .map((s) => s.id as string)
      .filter((id) => id !== ctx.instanceId);
    const published = servers.length ? await ctx.redis.mget(servers.map((id) => q.serverMetrics(id))) : [];
    const perServer: [string, ExportedStats][] = [[ctx.instanceId, ctx.stats.export()]];
    published.forEach((json, i) => {
      if (json) perServer.push([servers[i] as string, JSON.parse(json) as ExportedStats]);
    });
    const cluster = new CallStats();
    for (const [, stats] of perServer) cluster.merge(stats);
    const methods = cluster.snapshot();
    const sums = totals(methods);

    const minute = Math.floor(Date.now() / 60_000);
    const pipeline = ctx.redis.pipeline();
    for (const s of TASK_STATUSES) pipeline.zcard(q.status(s));
    for (let m = 1; m <= 5; m++) pipeline.get(q.completionsInMinute(minute - m));
    const counts = ((await pipeline.exec()) ?? []).map(([, v]) => Number(v ?? 0));
    const tasksByStatus = Object.fromEntries(TASK_STATUSES.map((s, i) => [s, counts[i] ?? 0]));
    const perMinute = counts.slice(TASK_STATUSES.length);

    const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
    return {
      eventsProcessed: sums.calls,
      errors: sums.errors,
      averageLatency: sums.averageLatency,
      tasksCompleted: tasksByStatus.completed ?? 0,
      tasksByStatus,
      completionsPerMinute: perMinute.reduce((a, b) => a + b, 0) / perMinute.length,
      serverProcesses: perServer.length,
      memoryUsage: heapUsed,
      memory: { rss, heapUsed, heapTotal, external },
      uptimeSeconds: Math.round((Date.now() - ctx.startedAt) / 1000),
      instanceId: ctx.instanceId,
      ...(detailed
        ? {
            methods,
            servers: perServer.map(([id, stats]) => {
              const one = new CallStats();
              one.merge(stats);
              return { serverId: id, ...totals(one.snapshot()) };
            }),
          }
        : {}),
    };
  },
});
