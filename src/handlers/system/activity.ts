import { z } from "zod";
import { TASK_STATUSES } from "../../contract/tasks.js";
import { MINUTES } from "../../core/recent-calls.js";
import { SAMPLE_MS } from "../../domain/tasks/queue-sampler.js";
import { defineHandler } from "../../services.js";

const latency = z
  .object({ p50Ms: z.number(), p95Ms: z.number(), p99Ms: z.number(), maxMs: z.number() })
  .nullable();
const callFigures = {
  calls: z.number(),
  errors: z.number(),
  errorsByCode: z.record(z.string(), z.number()),
  latency,
};
const series = z.array(z.number());
const gaps = z.array(z.number().nullable());
/** At most this many workers' series in an answer: the busiest over the span asked for. */
const WORKER_SERIES = 20;

export const systemActivity = defineHandler({
  name: "system.activity",
  description:
    "Recent activity for charts and headline figures. window: calls, errors by code and latency percentiles over the last `windowMinutes` minutes (default 5), overall and per method, of this server process. perMinute: the last `minutes` minutes (default 60), minute by minute: calls, errors, latency percentiles (of `method` only when given), and tasks completed and failed (cluster-wide). queue: tasks by status and the tasks each worker holds, sampled every 10 s over the same span (cluster-wide), the last sample read now.",
  input: z.object({
    windowMinutes: z.number().int().min(1).max(MINUTES).default(5),
    minutes: z.number().int().min(1).max(MINUTES).default(MINUTES),
    method: z.string().min(1).max(200).optional().describe("perMinute latency and calls of this method only"),
  }),
  output: z.object({
    now: z.number(),
    window: z.object({
      minutes: z.number(),
      /** Start of the oldest minute counted (epoch ms): the current minute is partial. */
      since: z.number(),
      ...callFigures,
      methods: z.array(z.object({ method: z.string(), ...callFigures })),
    }),
    perMinute: z.object({
      /** Start of each minute, epoch ms, oldest first. */
      t: series,
      calls: series,
      errors: series,
      p50Ms: gaps,
      p95Ms: gaps,
      p99Ms: gaps,
      completed: series,
      failed: series,
    }),
    queue: z.object({
      intervalMs: z.number(),
      t: series,
      byStatus: z.object(
        Object.fromEntries(TASK_STATUSES.map((s) => [s, series])) as Record<
          (typeof TASK_STATUSES)[number],
          typeof series
        >,
      ),
      workers: z.array(z.object({ workerId: z.string(), held: series })),
    }),
  }),
  expose: { mcp: { annotations: { readOnlyHint: true, idempotentHint: false, openWorldHint: false } } },
  handle: async ({ windowMinutes, minutes, method }, ctx) => {
    const recent = ctx.stats.recent;
    const rows = recent.perMinute(minutes, method);
    const firstMinute = Math.floor((rows[0]?.t ?? 0) / 60_000);
    const [finished, samples] = await Promise.all([
      ctx.tasks.finishedPerMinute(firstMinute, rows.length),
      ctx.queueSamples.since(rows[0]?.t ?? 0),
    ]);
    const at = (p: "p50Ms" | "p95Ms" | "p99Ms") => rows.map((r) => r.latency?.[p] ?? null);

    const peaks = new Map<string, number>();
    for (const s of samples)
      for (const w of s.workers) peaks.set(w.workerId, Math.max(peaks.get(w.workerId) ?? 0, w.activeTasks));
    const busiest = [...peaks].sort((a, b) => b[1] - a[1]).slice(0, WORKER_SERIES);
    return {
      now: recent.now(),
      window: { minutes: windowMinutes, ...recent.window(windowMinutes) },
      perMinute: {
        t: rows.map((r) => r.t),
        calls: rows.map((r) => r.calls),
        errors: rows.map((r) => r.errors),
        p50Ms: at("p50Ms"),
        p95Ms: at("p95Ms"),
        p99Ms: at("p99Ms"),
        ...finished,
      },
      queue: {
        intervalMs: SAMPLE_MS,
        t: samples.map((s) => s.t),
        byStatus: Object.fromEntries(
          TASK_STATUSES.map((status) => [status, samples.map((s) => s.byStatus[status])]),
        ) as Record<(typeof TASK_STATUSES)[number], number[]>,
        workers: busiest.map(([workerId]) => ({
          workerId,
          held: samples.map((s) => s.workers.find((w) => w.workerId === workerId)?.activeTasks ?? 0),
        })),
      },
    };
  },
});
