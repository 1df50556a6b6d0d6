import { z } from "zod";
import { defineHandler } from "../../services.js";
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

export const taskFail = defineHandler({
  name: "task.fail",
  description:
    "Reports that a task you hold failed. A retryable failure returns it to the queue after an exponential backoff until maxAttempts is spent; then, or when retryable is false, it goes to the dead letters (task.retry brings it back).",
  input: z
    .object({
      ...taskRef,
      ...holderFields,
      error: z.string().min(1).max(10_000).describe("What went wrong"),
      retryable: z.boolean().default(true),
    })
    .refine(hasTaskRef, TASK_REF_MESSAGE)
    .refine(hasHolder, HOLDER_MESSAGE),
  output: z.object({
    id: z.string(),
    status,
    retrying: z.boolean(),
    deadLettered: z.boolean(),
    attempts: z.number(),
    maxAttempts: z.number(),
    retryAt: z.string().optional(),
    task,
  }),
  expose: { mcp: { annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false } } },
  handle: async (input, ctx) => {
    const { task: failed, retrying } = await ctx.tasks.fail(
      resolveTaskId(input),
      { workerId: input.workerId, token: input.token },
      input.error,
      input.retryable,
    );
    return {
      id: failed.id,
      status: failed.status,
      retrying,
      deadLettered: failed.deadLettered ?? false,
      attempts: failed.attempts,
      maxAttempts: failed.maxAttempts,
      ...(failed.runAfter ? { retryAt: failed.runAfter } : {}),
      task: failed,
    };
  },
});
