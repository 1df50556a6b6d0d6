import { createHash } from "node:crypto";
import type { EmitFn } from "../../core/context.js";
import { evaluate, type PolicyDecision } from "../policy/engine.js";
import type { ProjectPolicies } from "../policy/policy-file.js";

/** A pre-tool decision, audited: every decision is an event (`hook.pre_tool.decided`). */
export interface PreToolCall {
  tool: string;
  input: Record<string, unknown>;
  sessionId?: string;
  instanceId?: string;
  cwd?: string;
}

export async function decidePreTool(
  deps: { policies: ProjectPolicies; emit: EmitFn },
  call: PreToolCall,
): Promise<PolicyDecision> {
  const decision = evaluate(
    { tool: call.tool, input: call.input, cwd: call.cwd },
    deps.policies.for(call.cwd).current(),
  );
  await deps.emit("hook.pre_tool.decided", {
    sessionId: call.sessionId ?? null,
    instanceId: call.instanceId ?? null,
    tool: call.tool,
    inputDigest: createHash("sha256").update(JSON.stringify(call.input)).digest("hex").slice(0, 32),
    summary: summarize(call),
    decision: decision.decision,
    rule: decision.rule,
    reason: decision.reason,
    cwd: call.cwd ?? null,
  });
  return decision;
}

/** A short, human-readable description of the call for dashboards (never the full content). */
function summarize(call: PreToolCall): string {
  const { input } = call;
  const text =
    typeof input.command === "string"
      ? input.command
      : typeof input.file_path === "string"
        ? input.file_path
        : typeof input.notebook_path === "string"
          ? input.notebook_path
          : typeof input.url === "string"
            ? input.url
            : "";
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
