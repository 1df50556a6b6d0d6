import { z } from "zod";
import { defineHandler } from "../../core/handler.js";
import { instanceId } from "./schemas.js";

export const systemUnregister = defineHandler({
  name: "system.unregister",
  description:
    "Removes an instance from the cluster; the tasks it held go back to the queue at once (attempts not counted).",
  input: z.object({ instanceId, sessionId: z.string().optional(), timestamp: z.number().optional() }),
  output: z.object({ unregistered: z.boolean(), tasksReassigned: z.number() }),
  expose: { mcp: { annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false } } },
  handle: async (input, ctx) => ({
    unregistered: true,
    tasksReassigned: await ctx.instances.unregister(input.instanceId),
  }),
});
