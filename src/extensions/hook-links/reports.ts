import type { ChainDecision, HookCallContext } from "./chain.js";
import type { PostToolInput, PromptInput } from "./link.js";

/**
 * The post_tool and user_prompt chains. A decision is recorded as `hook.<point>.decided` with
 * each link's outcome and duration — only when a link ran, so an empty chain costs nothing.
 */

async function decide<C extends HookCallContext<C>, P extends "post_tool" | "user_prompt">(
  ctx: C,
  point: P,
  input: P extends "post_tool" ? PostToolInput : PromptInput,
  about: Record<string, unknown>,
): Promise<ChainDecision<P>> {
  const decision = await ctx.hookChains.run(point, input, ctx);
  if (decision.links.length > 0) {
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

export const decidePostTool = <C extends HookCallContext<C>>(ctx: C, input: PostToolInput) =>
  decide(ctx, "post_tool", input, { tool: input.tool });

export const decidePrompt = <C extends HookCallContext<C>>(ctx: C, input: PromptInput) =>
  decide(ctx, "user_prompt", input, {});

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
