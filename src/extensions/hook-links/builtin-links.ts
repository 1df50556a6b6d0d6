import { evaluate } from "../../domain/policy/engine.js";
import type { ProjectPolicies } from "../../domain/policy/policy-file.js";
import { analyzePrompt } from "../../domain/policy/prompt.js";
import { defineHookLink, type HookLink } from "./link.js";

/**
 * The built-in links: the policy engine (pre_tool) and the prompt check (user_prompt), each
 * one link of its chain at priority 0, reading the project's policy from `policies`. They are
 * synchronous, so they run without a timer.
 */
export const builtinLinks = (policies: ProjectPolicies): readonly HookLink[] => [
  policyLink(policies),
  promptLink(policies),
];

const policyLink = (policies: ProjectPolicies) =>
  defineHookLink({
    name: "builtin.policy",
    hook: "pre_tool",
    priority: 0,
    run: (call) =>
      evaluate({ tool: call.tool, input: call.input, cwd: call.cwd }, policies.for(call.cwd).current()),
  });

const promptLink = (policies: ProjectPolicies) =>
  defineHookLink({
    name: "builtin.prompt",
    hook: "user_prompt",
    priority: 0,
    run: (input) => {
      const verdict = analyzePrompt(input.prompt, policies.for(input.cwd).current());
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
