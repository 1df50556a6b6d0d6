import { z } from "zod";
import { decidePrompt } from "../../extensions/hook-links/decisions.js";
import { defineHandler } from "../../services.js";
import { hookContext, hookInstance, linkRecords } from "./schemas.js";

export const hookUserPrompt = defineHandler({
  name: "hook.user_prompt",
  description:
    "Looks at a prompt before the model sees it: warns about secrets and destructive requests (modified = the prompt with the warnings appended), or blocks it by a project rule (block: true and continue: false, with the reason).",
  input: z.object({
    prompt: z.string().max(1_000_000),
    context: z.record(z.string(), z.unknown()).default({}),
    ...hookContext,
  }),
  output: z.object({
    modified: z.string().optional(),
    additionalContext: z.string().optional(),
    block: z.boolean(),
    continue: z
      .boolean()
      .describe("The original hook bridge's field: false = the prompt is blocked (it exits 2); !block"),
    reason: z.string().optional(),
    rule: z.string().optional(),
    links: linkRecords,
  }),
  expose: { mcp: false },
  handle: async (input, ctx) => {
    const cwd = typeof input.context.projectPath === "string" ? input.context.projectPath : undefined;
    const sessionId = input.sessionId ?? ctx.meta.sessionId;
    const decision = await decidePrompt(ctx, {
      prompt: input.prompt,
      cwd,
      sessionId,
      instanceId: hookInstance(input.instanceId, ctx.meta.instanceId, sessionId),
    });
    await ctx.emit("hook.user_prompt.executed", {
      sessionId: sessionId ?? null,
      decision: decision.decision,
      rule: decision.rule,
    });
    const rule = decision.rule ? { rule: decision.rule } : {};
    if (decision.decision === "block") {
      return { block: true, continue: false, reason: decision.reason, ...rule, links: decision.links };
    }
    if (decision.additionalContext) {
      const context = decision.additionalContext;
      return {
        block: false,
        continue: true,
        modified: `${input.prompt}\n\n[ClaudeBench] ${context}`,
        additionalContext: context,
        ...rule,
        links: decision.links,
      };
    }
    return { block: false, continue: true, links: decision.links };
  },
});
