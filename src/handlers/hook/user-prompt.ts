import { z } from "zod";
import { defineHandler } from "../../core/handler.js";
import { analyzePrompt } from "../../domain/hooks/prompt.js";
import { hookContext } from "./schemas.js";

export const hookUserPrompt = defineHandler({
  name: "hook.user_prompt",
  description:
    "Looks at a prompt before the model sees it: warns about secrets and destructive requests (modified = the prompt with the warnings appended), or blocks it by a project rule.",
  input: z.object({
    prompt: z.string().max(1_000_000),
    context: z.record(z.string(), z.unknown()).default({}),
    ...hookContext,
  }),
  output: z.object({
    modified: z.string().optional(),
    additionalContext: z.string().optional(),
    block: z.boolean(),
    reason: z.string().optional(),
    rule: z.string().optional(),
  }),
  expose: { mcp: false },
  handle: async (input, ctx) => {
    const cwd = typeof input.context.projectPath === "string" ? input.context.projectPath : undefined;
    const verdict = analyzePrompt(input.prompt, ctx.policies.for(cwd).current());
    await ctx.emit("hook.user_prompt.executed", {
      sessionId: input.sessionId ?? ctx.meta.sessionId ?? null,
      decision: verdict.decision,
      rule: verdict.rule,
    });
    if (verdict.decision === "block") {
      return {
        block: true,
        reason: verdict.reasons.join(" "),
        ...(verdict.rule ? { rule: verdict.rule } : {}),
      };
    }
    if (verdict.decision === "warn") {
      const context = verdict.reasons.join("\n");
      return {
        block: false,
        modified: `${input.prompt}\n\n[ClaudeBench] ${context}`,
        additionalContext: context,
        ...(verdict.rule ? { rule: verdict.rule } : {}),
      };
    }
    return { block: false };
  },
});
