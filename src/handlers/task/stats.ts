import { z } from "zod";
import { defineHandler } from "../../services.js";

const percentiles = z.object({
  samples: z.number(),
  p50Ms: z.number(),
  p95Ms: z.number(),
  p99Ms: z.number(),
});

export const taskStats = defineHandler({
  name: "task.stats",
  description:
    "Queue health at a glance: tasks per status, claimable depth, delayed, active leases, dead letters, oldest pending age, wait and run time percentiles, completions per minute and each worker's load.",
  input: z.object({}).loose(),
  output: z.object({
    byStatus: z.record(z.string(), z.number()),
    queueDepth: z.number(),
    delayed: z.number(),
    activeLeases: z.number(),
    deadLetters: z.number(),
    oldestPendingAgeMs: z.number().nullable(),
    waitTime: percentiles,
    runTime: percentiles,
    completionsThisMinute: z.number(),
    completionsPerMinute: z.number(),
    workers: z.array(z.object({ workerId: z.string(), activeTasks: z.number() })),
  }),
  expose: { mcp: { annotations: { readOnlyHint: true, idempotentHint: true } } },
  handle: async (_input, ctx) => ctx.tasks.stats(),
});
