import { z } from "zod";
import { defineHandler } from "../../services.js";
import {
  hasTaskRef,
  holderFields,
  resolveTaskId,
  TASK_REF_MESSAGE,
  task,
  taskId,
  taskRef,
} from "./schemas.js";

const releaseOutput = z.object({
  taskId: z.string(),
  previousAssignment: z.string().nullable(),
  unassignedAt: z.string(),
  task,
});

const released = (t: z.infer<typeof task>, previous: string) => ({
  taskId: t.id,
  previousAssignment: previous || null,
  unassignedAt: t.updatedAt,
  task: t,
});

export const taskRelease = defineHandler({
  name: "task.release",
  description:
    "Gives a task you hold back to the queue, at its original place in the order, without counting the attempt. Use it when you stop before finishing.",
  input: z.object({ ...taskRef, ...holderFields }).refine(hasTaskRef, TASK_REF_MESSAGE),
  output: releaseOutput,
  expose: { mcp: { annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false } } },
  handle: async (input, ctx) => {
    const { task: t, previousHolder } = await ctx.tasks.release(resolveTaskId(input), {
      workerId: input.workerId,
      token: input.token,
    });
    return released(t, previousHolder);
  },
});

export const taskUnassign = defineHandler({
  name: "task.unassign",
  description:
    "Takes a task away from whoever holds it and puts it back in the queue at its original place (an operator action; the holder's later completion is refused).",
  input: z.object({ taskId }),
  output: releaseOutput,
  expose: { mcp: { annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false } } },
  handle: async (input, ctx) => {
    const { task: t, previousHolder } = await ctx.tasks.release(input.taskId);
    return released(t, previousHolder);
  },
});
