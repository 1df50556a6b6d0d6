import { z } from "zod";
import { jsonAtMost, METADATA_MAX_BYTES } from "../../core/json-bounds.js";
import { defineHandler } from "../../services.js";
import { instanceId } from "./schemas.js";

export const systemRegister = defineHandler({
  name: "system.register",
  description:
    "Registers an agent, worker or session with the cluster (again: its record is replaced). Heartbeat every heartbeatIntervalMs with system.heartbeat, or it is declared failed and its tasks go to others. maxTasks caps how many tasks it holds at once; autoAssign asks for work to be pushed to it. A Claude Code session is the instance cc-<sessionId>, also when registered under the original hook bridge's name claude-code-<first 8 characters of sessionId>: instanceId says which instance was registered.",
  input: z.object({
    id: instanceId,
    roles: z.array(z.string().min(1).max(64)).max(32),
    capabilities: z.array(z.string().min(1).max(64)).max(32).optional(),
    maxTasks: z
      .number()
      .int()
      .min(0)
      .max(10_000)
      .optional()
      .describe("Most tasks held at once (0 = no limit)"),
    metadata: jsonAtMost(METADATA_MAX_BYTES, z.record(z.string(), z.unknown()))
      .optional()
      .describe("e.g. workingDirectory, model"),
    sessionId: z.string().max(200).optional(),
    autoAssign: z.boolean().optional(),
    timestamp: z.number().optional().describe("Ignored (the original sent it)"),
  }),
  output: z.object({
    registered: z.boolean(),
    instanceId: z.string(),
    registeredAt: z.string(),
    reregistered: z.boolean(),
    heartbeatIntervalMs: z.number(),
    heartbeatTimeoutMs: z.number(),
  }),
  expose: { mcp: { annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true } } },
  handle: async (input, ctx) => {
    const { instanceId, registeredAt, reregistered } = await ctx.instances.register({
      ...input,
      sessionId: input.sessionId ?? ctx.meta.sessionId,
    });
    const timeout = ctx.instances.heartbeatTimeoutMs;
    return {
      registered: true,
      instanceId,
      registeredAt,
      reregistered,
      heartbeatIntervalMs: Math.floor(timeout / 3),
      heartbeatTimeoutMs: timeout,
    };
  },
});
