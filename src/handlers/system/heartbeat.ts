import { z } from "zod";
import { jsonAtMost, METADATA_MAX_BYTES } from "../../core/json-bounds.js";
import { defineHandler } from "../../services.js";
import { instanceId } from "./schemas.js";

export const systemHeartbeat = defineHandler({
  name: "system.heartbeat",
  description:
    "Tells the cluster this instance is still alive. alive: false means it is unknown or was declared failed (its tasks went to others): register again. The original hook bridge's name of a Claude Code session (claude-code-...) keeps the session's instance cc-<session id> alive.",
  input: z.object({
    instanceId,
    status: z.string().max(200).optional().describe("Free text shown to others, e.g. 'running tests'"),
    load: jsonAtMost(METADATA_MAX_BYTES, z.record(z.string(), z.unknown())).optional(),
  }),
  output: z.object({ alive: z.boolean(), mustRegister: z.boolean(), nextHeartbeatMs: z.number() }),
  expose: { mcp: { annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true } } },
  handle: async (input, ctx) => {
    const alive = await ctx.instances.heartbeat(input.instanceId, input.status, input.load);
    return { alive, mustRegister: !alive, nextHeartbeatMs: Math.floor(ctx.instances.heartbeatTimeoutMs / 3) };
  },
});
