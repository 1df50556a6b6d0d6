import { createHash } from "node:crypto";
import type { ChainDecision, HookCallContext } from "./chain.js";
import type { HookPoint, HookPoints, PostToolInput, PreToolInput, PromptInput } from "./link.js";

/**
 * A hook call's decision: its chain run over the input, recorded as `hook.<point>.decided` with
 * each link's outcome and duration. Every pre_tool decision is recorded (the policy engine is
 * one link of that chain: the audit of what an agent was allowed to do); a post_tool or
 * user_prompt one only when a link ran, so an empty chain costs nothing.
 */
async function decide<C extends HookCallContext<C>, P extends HookPoint>(
  ctx: C,
  point: P,
  input: HookPoints[P]["input"],
  about: Record<string, unknown>,
  always: boolean,
): Promise<ChainDecision<P>> {
  const decision = await ctx.hookChains.run(point, input, ctx);
  if (always || decision.links.length > 0) {
    await ctx.emit(`hook.${point}.decided`, {
      sessionId: input.sessionId ?? null,
      instanceId: input.instanceId ?? null,
      ...about,
      decision: decision.decision,
      rule: decision.rule,
      reason: decision.reason,
      cwd: input.cwd ?? null,
      links: decision.links,
    });
  }
  return decision;
}

export const decidePreTool = <C extends HookCallContext<C>>(ctx: C, call: PreToolInput) =>
  decide(
    ctx,
    "pre_tool",
    call,
    {
      tool: call.tool,
      inputDigest: createHash("sha256").update(JSON.stringify(call.input)).digest("hex").slice(0, 32),
      summary: summarize(call),
    },
    true,
  );

export const decidePostTool = <C extends HookCallContext<C>>(ctx: C, input: PostToolInput) =>
  decide(ctx, "post_tool", input, { tool: input.tool }, false);

export const decidePrompt = <C extends HookCallContext<C>>(ctx: C, input: PromptInput) =>
  decide(ctx, "user_prompt", input, {}, false);

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

/**
 * What a post_tool call tells the session, one line each (the original hook bridge passes these
 * on as `notifications`): a link's block reason or each line of context the links added, then how
 * many messages wait in the session's inbox.
 */
export function postToolNotifications(decision: ChainDecision<"post_tool">, waiting: number): string[] {
  const said =
    decision.decision === "block" ? [decision.reason] : (decision.additionalContext?.split("\n") ?? []);
  return waiting > 0
    ? [...said, `${waiting} message(s) for this session wait in its inbox (session.inbox)`]
    : said;
}
