import { z } from "zod";
import { AppError } from "../../core/errors.js";
import { defineHandler } from "../../core/handler.js";
import { hasTaskRef, resolveTaskId, TASK_REF_MESSAGE, task, taskRef } from "./schemas.js";

export const taskGet = defineHandler({
  name: "task.get",
  description: "Returns one task with its status, lease holder, attempts, result or error.",
  input: z.object(taskRef).refine(hasTaskRef, TASK_REF_MESSAGE),
  output: task,
  expose: { mcp: { annotations: { readOnlyHint: true, idempotentHint: true } } },
  handle: async (input, ctx) => {
    const id = resolveTaskId(input);
    const found = (await ctx.tasks.get(id)) ?? (await ctx.archive?.getTask(id));
    if (!found) throw new AppError("NOT_FOUND", `Task ${id} not found`, { taskId: id });
    return found;
  },
});
