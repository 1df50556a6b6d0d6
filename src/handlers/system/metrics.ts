import { CallStats, type ExportedStats, type MethodStats } from "../../core/metrics.js";
import { clusterSnapshot } from "../../domain/coordination/cluster-snapshot.js";
import { defineHandler } from "../../services.js";
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
    const { tasksByStatus, servers } = await clusterSnapshot(ctx.tasks, ctx.cluster);
    const peers = servers.map((s) => s.id).filter((id) => id !== ctx.instanceId);
    const minute = Math.floor(Date.now() / 60_000);
    const [published, finished] = await Promise.all([
      ctx.cluster.publishedStats(peers),
      ctx.tasks.finishedPerMinute(minute - 5, 5),
    ]);
    const perServer: [string, ExportedStats][] = [[ctx.instanceId, ctx.stats.export()]];
    published.forEach((stats, i) => {
      if (stats) perServer.push([peers[i] as string, stats]);
    });
    const cluster = new CallStats();
    for (const [, stats] of perServer) cluster.merge(stats);
    const methods = cluster.snapshot();
    const sums = totals(methods);
    const perMinute = finished.completed;

    const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
    return {
      eventsProcessed: sums.calls,
      errors: sums.errors,
      averageLatency: sums.averageLatency,
      tasksCompleted: tasksByStatus.completed,
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
