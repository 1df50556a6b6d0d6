import { z } from "zod";
import { defineHandler } from "../../services.js";
import { hasTaskRef, resolveTaskId, TASK_REF_MESSAGE, task, taskRef } from "./schemas.js";

export const taskCancel = defineHandler({
  name: "task.cancel",
  description:
    "Cancels a pending or in-progress task: it will not be handed out again and its holder's completion is refused. The task stays readable (task.retry brings it back).",
  input: z
    .object({ ...taskRef, reason: z.string().max(2000).optional() })
    .refine(hasTaskRef, TASK_REF_MESSAGE),
  output: task,
  expose: { mcp: { annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false } } },
  handle: async (input, ctx) => ctx.tasks.cancel(resolveTaskId(input), input.reason),
});
