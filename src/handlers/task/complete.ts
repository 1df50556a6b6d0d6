import { z } from "zod";
import { defineHandler } from "../../core/handler.js";
import {
  HOLDER_MESSAGE,
  hasHolder,
  hasTaskRef,
  holderFields,
  resolveTaskId,
  status,
  TASK_REF_MESSAGE,
  task,
  taskRef,
} from "./schemas.js";

export const taskComplete = defineHandler({
  name: "task.complete",
  description:
    "Marks a task you hold as completed, with an optional result (any JSON). Pass the token from task.claim; LEASE_LOST means someone else holds the task now and your completion was not recorded.",
  input: z
    .object({ ...taskRef, ...holderFields, result: z.unknown().optional() })
    .refine(hasTaskRef, TASK_REF_MESSAGE)
    .refine(hasHolder, HOLDER_MESSAGE),
  output: z.object({ id: z.string(), status, completedAt: z.string(), task }),
  expose: { mcp: { annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false } } },
  handle: async (input, ctx) => {
    const done = await ctx.tasks.complete(
      resolveTaskId(input),
      { workerId: input.workerId, token: input.token },
      input.result,
    );
    return { id: done.id, status: done.status, completedAt: done.completedAt as string, task: done };
  },
});
