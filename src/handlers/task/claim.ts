import { z } from "zod";
import { defineHandler } from "../../services.js";
import { claimAnswer, claimOptions, toClaimAnswer, workerId } from "./schemas.js";

export const taskClaim = defineHandler({
  name: "task.claim",
  description:
    "Takes the best pending task(s) for a worker: highest priority first, oldest first within a priority. The answer carries a lease token and expiry: renew the lease while working, then complete or fail the task with the token. claimed is false when nothing is available.",
  input: z.object({ workerId, ...claimOptions }),
  output: claimAnswer,
  expose: { mcp: { annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false } } },
  handle: async (input, ctx) => {
    const tasks = await ctx.tasks.claim({
      workerId: input.workerId,
      count: input.maxTasks,
      leaseMs: input.leaseMs,
      channel: input.channel,
      capabilities: input.capabilities,
      capacity: "registered",
    });
    return toClaimAnswer(tasks);
  },
});
