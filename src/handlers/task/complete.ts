import { z } from "zod";
import { FREE_FORM_MAX_BYTES, jsonAtMost } from "../../core/json-bounds.js";
import { defineHandler } from "../../services.js";
import {
  claimAnswer,
  claimOptions,
  HOLDER_MESSAGE,
  hasHolder,
  hasTaskRef,
  holderFields,
  resolveTaskId,
  status,
  TASK_REF_MESSAGE,
  task,
  taskRef,
  toClaimAnswer,
} from "./schemas.js";

export const taskComplete = defineHandler({
  name: "task.complete",
  description:
    "Marks a task you hold as completed, with an optional result (any JSON). Pass the token from task.claim; LEASE_LOST means someone else holds the task now and your completion was not recorded. With claimNext, the same step also claims your next task(s) (as task.claim, for the worker that held this task) and answers them in next: a worker loop then needs one call per task.",
  input: z
    .object({
      ...taskRef,
      ...holderFields,
      result: jsonAtMost(FREE_FORM_MAX_BYTES, z.unknown()).optional(),
      claimNext: z
        .object(claimOptions)
        .optional()
        .describe("Also claim the next task(s) for the worker that held this one, in the same step"),
    })
    .refine(hasTaskRef, TASK_REF_MESSAGE)
    .refine(hasHolder, HOLDER_MESSAGE),
  output: z.object({
    id: z.string(),
    status,
    completedAt: z.string(),
    task,
    next: claimAnswer.optional().describe("With claimNext: the claim's answer"),
  }),
  expose: { mcp: { annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false } } },
  handle: async (input, ctx) => {
    const taskId = resolveTaskId(input);
    const holder = { workerId: input.workerId, token: input.token };
    if (!input.claimNext) {
      const done = await ctx.tasks.complete(taskId, holder, input.result);
      return { id: done.id, status: done.status, completedAt: done.completedAt as string, task: done };
    }
    const { task: done, next } = await ctx.tasks.completeAndClaim(taskId, holder, input.result, {
      count: input.claimNext.maxTasks,
      leaseMs: input.claimNext.leaseMs,
      channel: input.claimNext.channel,
      capabilities: input.claimNext.capabilities,
      capacity: "registered",
    });
    return {
      id: done.id,
      status: done.status,
      completedAt: done.completedAt as string,
      task: done,
      next: toClaimAnswer(next),
    };
  },
});
