import { z } from "zod";
import { AppError } from "../../core/errors.js";
import { defineHandler } from "../../services.js";
import { hasTaskRef, resolveTaskId, TASK_REF_MESSAGE, task, taskRef } from "./schemas.js";

export const taskGet = defineHandler({
  name: "task.get",
  description: "Returns one task with its status, lease holder, attempts, result or error.",
  input: z.object(taskRef).refine(hasTaskRef, TASK_REF_MESSAGE),
  output: task,
  expose: { mcp: { annotations: { readOnlyHint: true, idempotentHint: true } } },
  handle: async (input, ctx) => {
    const id = resolveTaskId(input);
    const live = await ctx.tasks.get(id);
    if (live) return live;
    if (!ctx.archive) throw new AppError("NOT_FOUND", `Task ${id} not found`, { taskId: id });
    let archived: Awaited<ReturnType<typeof ctx.archive.getTask>>;
    try {
      archived = await ctx.archive.getTask(id);
    } catch {
      throw new AppError(
        "UNAVAILABLE",
        `Task ${id} is not in Redis and the database does not answer; try again later`,
        {
          taskId: id,
        },
      );
    }
    if (!archived) throw new AppError("NOT_FOUND", `Task ${id} not found`, { taskId: id });
    return archived;
  },
});
