import { z } from "zod";
import { defineHandler } from "../../services.js";
import { hasTaskRef, resolveTaskId, TASK_REF_MESSAGE, task, taskRef } from "./schemas.js";

export const taskRetry = defineHandler({
  name: "task.retry",
  description:
    "Puts a failed (dead-lettered or expired) or cancelled task back in the queue with fresh attempts, at its original place in the order.",
  input: z.object(taskRef).refine(hasTaskRef, TASK_REF_MESSAGE),
  output: task,
  expose: { mcp: { annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false } } },
  handle: async (input, ctx) => ctx.tasks.retry(resolveTaskId(input)),
});
