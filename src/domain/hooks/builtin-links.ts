import { evaluate } from "../policy/engine.js";
import { defineHookLink, type HookLink } from "./link.js";
import { analyzePrompt } from "./prompt.js";

/**
 * The built-in links: the policy engine (pre_tool) and the prompt check (user_prompt), each
 * one link of its chain at priority 0. They are synchronous, so they run without a timer.
 */

export const policyLink = defineHookLink({
  name: "builtin.policy",
  hook: "pre_tool",
  priority: 0,
  run: (call, ctx) =>
    evaluate(
      { tool: call.tool, input: call.input, cwd: call.cwd },
      ctx.call.policies.for(call.cwd).current(),
    ),
});

export const promptLink = defineHookLink({
  name: "builtin.prompt",
  hook: "user_prompt",
  priority: 0,
  run: (input, ctx) => {
    const verdict = analyzePrompt(input.prompt, ctx.call.policies.for(input.cwd).current());
    if (verdict.decision === "allow") return undefined;
    return {
      decision: verdict.decision,
      rule: verdict.rule,
      // a block has one reason (the project rule's); warnings become context, one per line
      reason: verdict.reasons.join(" "),
      ...(verdict.decision === "warn" ? { additionalContext: verdict.reasons.join("\n") } : {}),
    };
  },
});

export const BUILTIN_LINKS: readonly HookLink[] = [policyLink, promptLink];
