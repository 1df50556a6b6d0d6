import { z } from "zod";
import type { Task } from "../../domain/tasks/model.js";
import { defineHandler } from "../../services.js";
import { capabilities, channel, leaseMs, task, workerId } from "./schemas.js";

/** What a claim may take, beside the worker: also the `claimNext` of task.complete. */
export const claimOptions = {
  maxTasks: z.number().int().min(1).max(10).default(1).describe("How many tasks to take at once"),
  leaseMs: leaseMs.optional(),
  channel: channel.optional().describe("Only tasks of this channel"),
  capabilities: capabilities.optional().describe("What this worker can do (for tasks that require some)"),
};

export const claimAnswer = z.object({
  claimed: z.boolean(),
  taskId: z.string().optional(),
  task: task.optional(),
  tasks: z.array(task),
  token: z.number().optional(),
  leaseExpiresAt: z.string().optional(),
});

/** The claimed tasks as task.claim answers: the first one also on its own (the original's shape). */
export function toClaimAnswer(tasks: Task[]): z.input<typeof claimAnswer> {
  const first = tasks[0];
  if (!first) return { claimed: false, tasks };
  return {
    claimed: true,
    taskId: first.id,
    task: first,
    tasks,
    token: first.leaseToken,
    leaseExpiresAt: first.leaseExpiresAt,
  };
}

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
