import { z } from "zod";
import { defineHandler } from "../../services.js";
import {
  HOLDER_MESSAGE,
  hasHolder,
  hasTaskRef,
  holderFields,
  leaseMs,
  resolveTaskId,
  TASK_REF_MESSAGE,
  taskRef,
} from "./schemas.js";

export const taskRenew = defineHandler({
  name: "task.renew",
  description:
    "Extends the lease on a task you are working on, so it is not handed to another worker. Call it well before leaseExpiresAt; LEASE_LOST means the task is no longer yours: stop working on it.",
  input: z
    .object({ ...taskRef, ...holderFields, leaseMs: leaseMs.optional() })
    .refine(hasTaskRef, TASK_REF_MESSAGE)
    .refine(hasHolder, HOLDER_MESSAGE),
  output: z.object({ id: z.string(), token: z.number(), leaseExpiresAt: z.string() }),
  expose: { mcp: { annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true } } },
  handle: async (input, ctx) => {
    const renewed = await ctx.tasks.renew(
      resolveTaskId(input),
      { workerId: input.workerId, token: input.token },
      input.leaseMs,
    );
    return {
      id: renewed.id,
      token: renewed.leaseToken as number,
      leaseExpiresAt: renewed.leaseExpiresAt as string,
    };
  },
});
