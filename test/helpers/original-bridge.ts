/**
 * The original ClaudeBench's hook bridge (`scripts/claude_code_hooks.py` of fblgit/claudebench),
 * as a protocol: the JSON-RPC call it makes for each Claude Code hook payload, with its headers,
 * and what it does with the answer (its exit code and what it prints). Written down from reading
 * the script, so that tests can hold this server to it without running Python; only the parts
 * that reach the wire or decide the exit code.
 */

type Json = Record<string, unknown>;

/** What Claude Code gives the bridge besides the payload: `CLAUDE_PROJECT_DIR`. */
export interface BridgeEnv {
  projectDir: string;
}

export interface BridgeCall {
  method: string;
  params: Json;
}

/** The bridge's name of a session's instance: `claude-code-` and the first 8 characters of its id. */
export const bridgeInstanceName = (sessionId: string) => `claude-code-${sessionId.slice(0, 8)}`;

/** The JSON-RPC call the bridge makes for a Claude Code hook payload. */
export function bridgeCall(payload: Json, env: BridgeEnv): BridgeCall {
  const event = String(payload.hook_event_name ?? "");
  const sessionId = String(payload.session_id);
  const instanceId = bridgeInstanceName(sessionId);
  const timestamp = Date.now();
  const tool = payload.tool_name ?? "";
  const toolInput = (payload.tool_input ?? {}) as Json;
  const who = { sessionId, instanceId, timestamp };
  switch (event) {
    case "PreToolUse":
      return {
        method: "hook.pre_tool",
        params: {
          tool,
          params: toolInput,
          ...who,
          metadata: { projectDir: env.projectDir, eventType: event },
        },
      };
    case "PostToolUse":
      if (tool === "TodoWrite") {
        return { method: "hook.todo_write", params: { todos: toolInput.todos ?? [], ...who } };
      }
      return {
        method: "hook.post_tool",
        params: {
          tool,
          params: toolInput,
          result: payload.tool_result ?? payload.tool_response ?? null,
          ...who,
          executionTime: payload.executionTime ?? 0,
          success: payload.success ?? true,
        },
      };
    case "UserPromptSubmit":
      return {
        method: "hook.user_prompt",
        params: {
          prompt: payload.prompt ?? "",
          context: payload.context ?? {
            projectPath: env.projectDir,
            conversationId: payload.conversation_id ?? null,
            messageCount: payload.message_count ?? 0,
          },
          ...who,
        },
      };
    case "SessionStart":
      return {
        method: "system.register",
        params: {
          id: instanceId,
          roles: payload.roles ?? ["claude-code"],
          sessionId,
          timestamp,
          metadata: { projectDir: env.projectDir, resumeFrom: payload.resume_from ?? null },
        },
      };
    case "SessionEnd":
      return { method: "system.unregister", params: { instanceId, sessionId, timestamp } };
    case "Stop":
      return { method: "hook.agent_stop", params: { instanceId, sessionId, agentType: "main", timestamp } };
    case "SubagentStop":
      return {
        method: "hook.agent_stop",
        params: { instanceId, sessionId, agentType: payload.subagent_type ?? "unknown", timestamp },
      };
    case "Notification":
      return {
        method: "hook.notification",
        params: { message: payload.message ?? "", type: payload.notification_type ?? "info", ...who },
      };
    case "PreCompact":
      return {
        method: "hook.pre_compact",
        params: { sessionId, instanceId, contextSize: payload.context_size ?? 0, timestamp },
      };
    default:
      return {
        method: `hook.${event.toLowerCase().replaceAll(" ", "_")}`,
        params: { data: payload, ...who },
      };
  }
}

/** What the bridge does with an answer: its exit code (2 blocks) and the JSON it prints, if any. */
export interface BridgeAction {
  exit: 0 | 1 | 2;
  printed?: Json;
}

export function bridgeAction(method: string, reply: Json): BridgeAction {
  const error = reply.error as Json | undefined;
  if (error) return { exit: error.code === -32003 ? 2 : 1 };
  const result = reply.result as Json | undefined;
  if (!result) return { exit: 1 };
  switch (method) {
    case "hook.pre_tool":
      if (!(result.allow ?? true)) {
        return {
          exit: 2,
          printed: { blocked: true, reason: result.reason ?? "Blocked by hook", metadata: result.metadata },
        };
      }
      return "modified" in result
        ? { exit: 0, printed: { modified: result.modified, warnings: result.warnings ?? [] } }
        : { exit: 0 };
    case "hook.user_prompt": {
      if (!(result.continue ?? true)) {
        return { exit: 2, printed: { blocked: true, reason: result.reason ?? "Blocked by hook" } };
      }
      const printed: Json = {};
      if ("modified" in result) printed.modified = result.modified;
      if ("addedContext" in result) printed.addedContext = result.addedContext;
      return Object.keys(printed).length > 0 ? { exit: 0, printed } : { exit: 0 };
    }
    case "hook.post_tool":
      return "processed" in result
        ? { exit: 0, printed: { processed: result.processed, notifications: result.notifications ?? [] } }
        : { exit: 0 };
    case "hook.todo_write":
      return result.processed
        ? { exit: 0, printed: { processed: true, summary: result.summary ?? {} } }
        : { exit: 0 };
    default:
      return { exit: 0 };
  }
}

/** The headers the bridge sends (urllib, no Origin). */
export const BRIDGE_HEADERS = {
  "content-type": "application/json",
  accept: "application/json",
  "user-agent": "claude-code-hook-bridge/1.0",
};

export interface BridgeRun extends BridgeCall, BridgeAction {
  reply: Json;
}

/** One hook payload through the bridge's protocol against `rpcUrl` (the bridge's CLAUDEBENCH_RPC_URL). */
export async function runBridge(rpcUrl: string, payload: Json, env: BridgeEnv): Promise<BridgeRun> {
  const call = bridgeCall(payload, env);
  const res = await fetch(rpcUrl, {
    method: "POST",
    headers: BRIDGE_HEADERS,
    body: JSON.stringify({
      jsonrpc: "2.0",
      method: call.method,
      params: call.params,
      id: Date.now() % 100_000,
    }),
  });
  if (res.status !== 200) return { ...call, reply: {}, exit: 1 }; // urllib: an HTTP error, non-blocking
  const reply = (await res.json()) as Json;
  return { ...call, reply, ...bridgeAction(call.method, reply) };
}
