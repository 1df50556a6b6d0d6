import { z } from "zod";
import { defineHandler } from "../../services.js";
import { instanceId } from "./schemas.js";

export const systemUnregister = defineHandler({
  name: "system.unregister",
  description:
    "Removes an instance from the cluster; the tasks it held go back to the queue at once (attempts not counted). The original hook bridge's name of a Claude Code session (claude-code-<first 8 characters of sessionId>) means the session's instance cc-<sessionId>.",
  input: z.object({
    instanceId,
    sessionId: z.string().max(200).optional(),
    timestamp: z.number().optional().describe("Ignored (the original sent it)"),
  }),
  output: z.object({ unregistered: z.boolean(), tasksReassigned: z.number() }),
  expose: { mcp: { annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false } } },
  handle: async (input, ctx) => ({
    unregistered: true,
    tasksReassigned: await ctx.instances.unregister(input.instanceId, input.sessionId),
  }),
});
