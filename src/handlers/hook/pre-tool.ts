import { z } from "zod";
import { decidePreTool } from "../../extensions/hook-links/decisions.js";
import { defineHandler } from "../../services.js";
import { hookContext, hookInstance, linkRecords, toolInput } from "./schemas.js";

export const hookPreTool = defineHandler({
  name: "hook.pre_tool",
  description:
    "Checks a tool call against the project's policy before it runs. allow: false means do not run it (reason says why); modified is a safer replacement input. The original ClaudeBench protocol has no 'ask': a call that needs a person's confirmation is refused here with a reason saying so.",
  input: z.object({
    tool: z.string().min(1).max(200),
    params: z.unknown(),
    ...hookContext,
    cwd: z.string().max(4096).optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
  }),
  output: z.object({
    allow: z.boolean(),
    reason: z.string().optional(),
    modified: z.record(z.string(), z.unknown()).optional(),
    decision: z.enum(["deny", "ask", "modify", "warn", "allow"]),
    rule: z.string().optional(),
    warnings: z.array(z.string()).optional(),
    links: linkRecords,
  }),
  expose: { mcp: false },
  handle: async (input, ctx) => {
    const cwd =
      input.cwd ?? (typeof input.metadata?.projectDir === "string" ? input.metadata.projectDir : undefined);
    const sessionId = input.sessionId ?? ctx.meta.sessionId;
    const decision = await decidePreTool(ctx, {
      tool: input.tool,
      input: toolInput(input.tool, input.params),
      sessionId,
      instanceId: hookInstance(input.instanceId, ctx.meta.instanceId, sessionId),
      cwd,
    });
    const refused = decision.decision === "deny" || decision.decision === "ask";
    const { warnings } = decision;
    return {
      allow: !refused,
      ...(refused
        ? {
            reason:
              decision.decision === "ask"
                ? `needs a person's confirmation: ${decision.reason}`
                : decision.reason,
          }
        : decision.decision === "modify"
          ? { reason: decision.reason }
          : {}),
      ...(decision.updatedInput ? { modified: decision.updatedInput } : {}),
      decision: decision.decision,
      ...(decision.rule ? { rule: decision.rule } : {}),
      ...(warnings.length ? { warnings } : {}),
      links: decision.links,
    };
  },
});
