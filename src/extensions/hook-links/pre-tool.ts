import { createHash } from "node:crypto";
import type { ChainDecision, HookCallContext } from "./chain.js";
import type { PreToolInput } from "./link.js";

/**
 * A pre-tool decision: the pre_tool chain (the policy engine is one link of it), audited —
 * every decision is an event (`hook.pre_tool.decided`, with each link's outcome and duration).
 */
export async function decidePreTool<C extends HookCallContext<C>>(
  ctx: C,
  call: PreToolInput,
): Promise<ChainDecision<"pre_tool">> {
  const decision = await ctx.hookChains.run("pre_tool", call, ctx);
  await ctx.emit("hook.pre_tool.decided", {
    sessionId: call.sessionId ?? null,
    instanceId: call.instanceId ?? null,
    tool: call.tool,
    inputDigest: createHash("sha256").update(JSON.stringify(call.input)).digest("hex").slice(0, 32),
    summary: summarize(call),
    decision: decision.decision,
    rule: decision.rule,
    reason: decision.reason,
    cwd: call.cwd ?? null,
    links: decision.links,
  });
  return decision;
}

/** A short, human-readable description of the call for dashboards (never the full content). */
function summarize(call: PreToolInput): string {
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
