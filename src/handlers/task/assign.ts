import { z } from "zod";
import { defineHandler } from "../../services.js";
import { leaseMs, task, taskId, workerId } from "./schemas.js";

export const taskAssign = defineHandler({
  name: "task.assign",
  description:
    "Pushes a pending task to a named instance, which then holds its lease (within that instance's maxTasks). Use task.claim instead when a worker should pick its own work.",
  input: z.object({ taskId, instanceId: workerId, leaseMs: leaseMs.optional() }),
  output: z.object({
    taskId: z.string(),
    instanceId: z.string(),
    assignedAt: z.string(),
    token: z.number(),
    leaseExpiresAt: z.string(),
    task,
  }),
  expose: { mcp: { annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false } } },
  handle: async (input, ctx) => {
    const assigned = await ctx.tasks.assign(input.taskId, input.instanceId, "registered", input.leaseMs);
    return {
      taskId: assigned.id,
      instanceId: input.instanceId,
      assignedAt: assigned.claimedAt as string,
      token: assigned.leaseToken as number,
      leaseExpiresAt: assigned.leaseExpiresAt as string,
      task: assigned,
    };
  },
});
