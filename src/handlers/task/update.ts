import { z } from "zod";
import { defineHandler } from "../../services.js";
import { channel, metadata, priority, status, task, taskId } from "./schemas.js";

export const taskUpdate = defineHandler({
  name: "task.update",
  description:
    "Changes a task's text, priority, description, channel, maxAttempts or metadata (merged entry by entry; null removes an entry). A priority change re-orders a waiting task. status may go pending → cancelled or failed/cancelled → pending; other moves have their own methods (claim, complete, fail).",
  input: z.object({
    id: taskId,
    updates: z
      .object({
        text: z.string().min(1).max(2000).optional(),
        priority: priority.optional(),
        description: z.string().max(10_000).nullable().optional(),
        channel: channel.nullable().optional(),
        maxAttempts: z.number().int().min(1).max(100).optional(),
        status: status.optional(),
        metadata: metadata.optional(),
      })
      .refine((u) => Object.values(u).some((v) => v !== undefined), {
        message: "updates has no field to change",
      }),
  }),
  output: task,
  expose: { mcp: { annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true } } },
  handle: async (input, ctx) => ctx.tasks.update(input.id, input.updates),
});
