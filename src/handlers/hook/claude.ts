import { z } from "zod";
import { AppError } from "../../core/errors.js";
import { toKeySafeId } from "../../core/ids.js";
import { sessionInstanceId } from "../../domain/coordination/identity.js";
import { inboxContext } from "../../domain/sessions/inbox.js";
import { projectOf, touchSession } from "../../domain/sessions/sessions.js";
import type { Todo } from "../../domain/sessions/todos.js";
import type { ChainDecision } from "../../extensions/hook-links/chain.js";
import { decidePostTool, decidePreTool, decidePrompt } from "../../extensions/hook-links/decisions.js";
import type { HandlerContext } from "../../services.js";
import { defineHandler } from "../../services.js";
import { toolInput } from "./schemas.js";

/**
 * Claude Code's own hook JSON in, Claude Code's own decision JSON out — for HTTP hooks
 * (`POST /hook/claude`) and the `claudebench hook` command bridge. Every event is tied to its
 * session (an instance `cc-<session_id>`) and recorded; an event this server does not know is
 * recorded and answered with `{}` (no decision), never with an error that would break the session.
 */

const payload = z
  .object({
    hook_event_name: z.string().min(1).max(100),
    session_id: z.string().max(200).optional(),
    cwd: z.string().max(4096).optional(),
    transcript_path: z.string().max(4096).optional(),
    permission_mode: z.string().max(100).optional(),
    tool_name: z.string().max(200).optional(),
    tool_input: z.unknown().optional(),
    tool_response: z.unknown().optional(),
    prompt: z.string().optional(),
    source: z.string().max(100).optional(),
    model: z.string().max(200).optional(),
    task_id: z.string().max(200).optional(),
    task_subject: z.string().optional(),
    task_description: z.string().optional(),
  })
  .loose();

type Payload = z.infer<typeof payload>;
type Output = Record<string, unknown>;

const snake = (event: string) => event.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();

async function preToolUse(p: Payload, ctx: HandlerContext, holder: string | null): Promise<Output> {
  const tool = p.tool_name ?? "unknown";
  const decision = await decidePreTool(ctx, {
    tool,
    input: toolInput(tool, p.tool_input),
    sessionId: p.session_id,
    instanceId: holder ?? undefined,
    cwd: p.cwd,
  });
  const out = { hookEventName: "PreToolUse" } as Record<string, unknown>;
  switch (decision.decision) {
    case "deny":
    case "ask":
      out.permissionDecision = decision.decision;
      out.permissionDecisionReason = `ClaudeBench policy (${decision.rule}): ${decision.reason}`;
      // an ask after a link rewrote the input: the person approves what will run
      if (decision.updatedInput) out.updatedInput = decision.updatedInput;
      break;
    case "modify":
      // Shown to the person with the rewritten input; never an automatic approval.
      out.permissionDecision = "ask";
      out.permissionDecisionReason = `ClaudeBench policy (${decision.rule}): ${decision.reason}`;
      out.updatedInput = decision.updatedInput;
      break;
    case "warn":
      out.additionalContext = `ClaudeBench policy: ${decision.additionalContext ?? decision.reason}`;
      break;
    case "allow":
      return {}; // no decision: Claude Code's own permission rules apply
  }
  return { hookSpecificOutput: out };
}

/** The session a hook call is about, as the chains' inputs name it. */
const about = (p: Payload, holder: string | null) => ({
  sessionId: p.session_id,
  instanceId: holder ?? undefined,
  cwd: p.cwd,
});

/** A post_tool or user_prompt chain's decision in Claude Code's format (the same for both events). */
function reportAnswer(event: string, decision: ChainDecision<"post_tool" | "user_prompt">): Output {
  if (decision.decision === "block") return { decision: "block", reason: decision.reason };
  if (decision.additionalContext) {
    return { hookSpecificOutput: { hookEventName: event, additionalContext: decision.additionalContext } };
  }
  return {};
}

async function todoWrite(p: Payload, ctx: HandlerContext, holder: string): Promise<void> {
  const todos = (p.tool_input as { todos?: Todo[] } | undefined)?.todos;
  if (!Array.isArray(todos)) return;
  // Inside a subagent (same session_id, its own agent_id) TodoWrite is the subagent's own list.
  const agent = typeof p.agent_id === "string" && p.agent_id ? p.agent_id.slice(0, 200) : null;
  const listed = todos.filter((t) => t && typeof t.content === "string");
  const result = await ctx.sessions.syncTodos(
    {
      holder,
      sessionId: p.session_id ?? holder,
      channel: p.cwd ? projectOf(p.cwd) : holder,
      ...(agent ? { list: `${holder}:agent:${agent}` } : {}),
    },
    listed,
  );
  const who = { sessionId: p.session_id ?? holder, instanceId: holder, cwd: p.cwd, agentId: agent };
  await ctx.emit("hook.todo_write.executed", await ctx.sessions.todoWriteEvent(who, listed, result));
}

/** TaskCreated / TaskCompleted (Claude Code's Task tools): one task per Claude Code task id. */
async function claudeTask(
  p: Payload,
  ctx: HandlerContext,
  holder: string,
  completed: boolean,
): Promise<Output> {
  if (!p.task_id) return {};
  const { task } = await ctx.tasks.create({
    text: (p.task_subject || p.task_id).slice(0, 2000),
    description: p.task_description?.slice(0, 10_000),
    priority: 50,
    maxAttempts: 3,
    channel: p.cwd ? projectOf(p.cwd) : holder,
    metadata: { sessionId: p.session_id ?? null, source: "TaskCreated", claudeTaskId: p.task_id },
    idempotencyKey: toKeySafeId(`cc-task.${holder}.${p.task_id}`, 200),
  });
  if (!completed || task.status === "completed") return {};
  try {
    if (task.status === "pending") await ctx.tasks.assign(task.id, holder);
    await ctx.tasks.complete(task.id, { workerId: holder });
  } catch (err) {
    if (!(err instanceof AppError)) throw err; // held by another session or finished elsewhere
  }
  return {};
}

export const hookClaude = defineHandler({
  name: "hook.claude",
  description:
    "Claude Code's native hook endpoint: takes the hook event JSON Claude Code sends (PreToolUse, PostToolUse, UserPromptSubmit, SessionStart, SessionEnd, Stop, ...) and answers in Claude Code's decision format.",
  input: payload,
  output: z.record(z.string(), z.unknown()),
  expose: { mcp: false },
  handle: async (p, ctx) => {
    const event = p.hook_event_name;
    const session = p.session_id
      ? {
          sessionId: p.session_id,
          cwd: p.cwd,
          model: p.model,
          source: p.source,
          transcriptPath: p.transcript_path,
        }
      : null;
    let holder: string | null = null;
    if (session && event !== "SessionEnd")
      holder = await touchSession(ctx.instances, session, event === "SessionStart");
    await ctx.emit(`hook.${snake(event)}`, {
      sessionId: p.session_id ?? null,
      instanceId: holder,
      tool: p.tool_name ?? null,
      cwd: p.cwd ?? null,
    });

    switch (event) {
      case "PreToolUse":
        return preToolUse(p, ctx, holder);
      case "PostToolUse": {
        if (holder && p.tool_name === "TodoWrite") await todoWrite(p, ctx, holder);
        const tool = p.tool_name ?? "unknown";
        const decision = await decidePostTool(ctx, {
          tool,
          input: toolInput(tool, p.tool_input),
          response: p.tool_response,
          success: true,
          ...about(p, holder),
        });
        return reportAnswer("PostToolUse", decision);
      }
      case "UserPromptSubmit": {
        const decision = await decidePrompt(ctx, { prompt: p.prompt ?? "", ...about(p, holder) });
        if (decision.decision === "block") return reportAnswer("UserPromptSubmit", decision);
        // Messages other sessions and workflows left for this session reach its model here
        // (not when the prompt is blocked: they wait for the next one).
        const inbox = p.session_id ? await ctx.sessions.readInbox(p.session_id, true) : [];
        if (inbox.length === 0) return reportAnswer("UserPromptSubmit", decision);
        const additionalContext = [decision.additionalContext, inboxContext(inbox)]
          .filter(Boolean)
          .join("\n\n");
        return reportAnswer("UserPromptSubmit", { ...decision, additionalContext });
      }
      case "SessionStart": {
        if (!p.cwd) return {};
        const waiting = await ctx.tasks.channelDepth(projectOf(p.cwd));
        return waiting > 0
          ? {
              hookSpecificOutput: {
                hookEventName: "SessionStart",
                additionalContext: `ClaudeBench: ${waiting} pending task(s) in project ${projectOf(p.cwd)} (task__list / task__claim).`,
              },
            }
          : {};
      }
      case "SessionEnd":
        if (p.session_id) {
          await ctx.instances.unregister(sessionInstanceId(p.session_id)).catch((err) => {
            if (!(err instanceof AppError)) throw err; // never registered
          });
        }
        return {};
      case "TaskCreated":
        return holder ? claudeTask(p, ctx, holder, false) : {};
      case "TaskCompleted":
        return holder ? claudeTask(p, ctx, holder, true) : {};
      default:
        return {}; // recorded above; no decision
    }
  },
});
