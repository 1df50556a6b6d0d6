import { z } from "zod";
import { touchSession } from "../../domain/sessions/sessions.js";
import { decidePostTool, postToolNotifications } from "../../extensions/hook-links/decisions.js";
import { defineHandler } from "../../services.js";
import { hookContext, hookInstance, linkRecords, toolInput } from "./schemas.js";

/** The original ClaudeBench's later lifecycle hooks: each is recorded as an event. */

export const hookPostTool = defineHandler({
  name: "hook.post_tool",
  description:
    "Records that a tool ran (tool, success, execution time) on the event stream for the session, and runs the post_tool hook links: block = feedback for the model (reason), additionalContext = context for it. notifications: those, and the messages waiting in the session's inbox, one line each.",
  input: z.object({
    tool: z.string().min(1).max(200),
    result: z.unknown(),
    params: z.unknown().optional(),
    executionTime: z.number().optional(),
    success: z.boolean().optional(),
    cwd: z.string().max(4096).optional(),
    ...hookContext,
  }),
  output: z.object({
    processed: z.boolean(),
    block: z.boolean().optional(),
    reason: z.string().optional(),
    additionalContext: z.string().optional(),
    notifications: z.array(z.string()),
    links: linkRecords,
  }),
  expose: { mcp: false },
  handle: async (input, ctx) => {
    const sessionId = input.sessionId ?? ctx.meta.sessionId;
    await ctx.emit("hook.post_tool.executed", {
      sessionId: sessionId ?? null,
      tool: input.tool,
      success: input.success ?? null,
      executionTime: input.executionTime ?? null,
    });
    const decision = await decidePostTool(ctx, {
      tool: input.tool,
      input: toolInput(input.tool, input.params),
      response: input.result,
      success: input.success,
      cwd: input.cwd,
      sessionId,
      instanceId: hookInstance(input.instanceId, ctx.meta.instanceId, sessionId),
    });
    const waiting = sessionId ? await ctx.sessions.inboxSize(sessionId) : 0;
    return {
      processed: true,
      ...(decision.decision === "block" ? { block: true, reason: decision.reason } : {}),
      ...(decision.additionalContext ? { additionalContext: decision.additionalContext } : {}),
      notifications: postToolNotifications(decision, waiting),
      links: decision.links,
    };
  },
});

export const hookAgentStop = defineHandler({
  name: "hook.agent_stop",
  description: "Records that an agent (main or subagent) finished its turn; the session stays registered.",
  input: z.object({ agentType: z.enum(["main", "subagent", "unknown"]).default("unknown"), ...hookContext }),
  output: z.object({ acknowledged: z.boolean(), cleanedUp: z.boolean() }),
  expose: { mcp: false },
  handle: async (input, ctx) => {
    const sessionId = input.sessionId ?? ctx.meta.sessionId;
    if (sessionId) await touchSession(ctx.instances, { sessionId });
    await ctx.emit("hook.agent_stop.executed", { sessionId: sessionId ?? null, agentType: input.agentType });
    return { acknowledged: true, cleanedUp: false };
  },
});

/**
 * The original's notification levels, and Claude Code's `notification_type`s that its hook bridge
 * passes on as `type`. Any other short name is accepted too: Claude Code adds types.
 */
const NOTIFICATION_TYPES = [
  "info",
  "warning",
  "error",
  "success",
  "permission_prompt",
  "idle_prompt",
  "auth_success",
  "elicitation_dialog",
  "elicitation_complete",
  "elicitation_response",
] as const;

export const hookNotification = defineHandler({
  name: "hook.notification",
  description: "Broadcasts a session's notification to everyone watching the event stream.",
  input: z.object({
    message: z.string().max(10_000),
    type: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/, "a notification type: letters, digits and . _ - (max 64)")
      .default("info")
      .describe(
        `The notification's type: ${NOTIFICATION_TYPES.join(", ")}, or a newer type of Claude Code's`,
      ),
    ...hookContext,
  }),
  output: z.object({ received: z.boolean(), broadcasted: z.boolean() }),
  expose: { mcp: false },
  handle: async (input, ctx) => {
    await ctx.emit("hook.notification.executed", {
      sessionId: input.sessionId ?? ctx.meta.sessionId ?? null,
      message: input.message,
      type: input.type,
    });
    return { received: true, broadcasted: true };
  },
});

export const hookPreCompact = defineHandler({
  name: "hook.pre_compact",
  description: "Records that a session's context is about to be compacted.",
  input: z.object({ contextSize: z.number().optional(), ...hookContext }),
  output: z.object({ acknowledged: z.boolean(), stateSaved: z.boolean() }),
  expose: { mcp: false },
  handle: async (input, ctx) => {
    await ctx.emit("hook.pre_compact.executed", {
      sessionId: input.sessionId ?? ctx.meta.sessionId ?? null,
      contextSize: input.contextSize ?? null,
    });
    return { acknowledged: true, stateSaved: true };
  },
});

export const hookEvent = defineHandler({
  name: "hook.event",
  description:
    "Accepts any other hook.<event> a client sends (events newer than this server): it is recorded on the event stream and acknowledged, never refused.",
  input: z.object({ data: z.unknown().optional(), ...hookContext }).loose(),
  output: z.object({ received: z.boolean(), event: z.string() }),
  expose: { mcp: false },
  catchAll: true,
  handle: async (input, ctx) => {
    await ctx.emit(`${ctx.method}.received`, {
      sessionId: input.sessionId ?? ctx.meta.sessionId ?? null,
      data: input.data ?? null,
    });
    return { received: true, event: ctx.method };
  },
});
