import { z } from "zod";
import { defineHandler } from "../../core/handler.js";
import { capabilities, channel, leaseMs, task, workerId } from "./schemas.js";

export const taskClaim = defineHandler({
  name: "task.claim",
  description:
    "Takes the best pending task(s) for a worker: highest priority first, oldest first within a priority. The answer carries a lease token and expiry: renew the lease while working, then complete or fail the task with the token. claimed is false when nothing is available.",
  input: z.object({
    workerId,
    maxTasks: z.number().int().min(1).max(10).default(1).describe("How many tasks to take at once"),
    leaseMs: leaseMs.optional(),
    channel: channel.optional().describe("Only tasks of this channel"),
    capabilities: capabilities.optional().describe("What this worker can do (for tasks that require some)"),
  }),
  output: z.object({
    claimed: z.boolean(),
    taskId: z.string().optional(),
    task: task.optional(),
    tasks: z.array(task),
    token: z.number().optional(),
    leaseExpiresAt: z.string().optional(),
  }),
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
  },
});
