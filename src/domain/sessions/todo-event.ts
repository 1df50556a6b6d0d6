import type { Redis } from "ioredis";
import type { Keys } from "../../storage/keys.js";
import { roleOf } from "./roles.js";
import { projectOf } from "./sessions.js";
import type { Todo, TodoSyncResult } from "./todos.js";

/**
 * The payload of `hook.todo_write.executed`: whose list changed (session, its project and role
 * there) and the list itself, short, so that subscriptions and workflows (e.g. "report a member
 * session's todos to the master") need nothing else.
 */
const SUMMARY_MAX = 3000;

export async function todoWriteEvent(
  redis: Redis,
  keys: Keys,
  who: { sessionId: string; instanceId?: string | null; cwd?: string; agentId?: string | null },
  todos: readonly Todo[],
  result: TodoSyncResult,
): Promise<Record<string, unknown>> {
  const project = who.cwd ? projectOf(who.cwd) : null;
  const listed = todos.slice(0, 50).map((t) => ({ content: t.content.slice(0, 200), status: t.status }));
  return {
    sessionId: who.sessionId,
    instanceId: who.instanceId ?? null,
    agentId: who.agentId ?? null,
    project,
    role: project ? await roleOf(redis, keys, project, who.sessionId) : "member",
    count: todos.length,
    cancelled: result.cancelled.length,
    todos: listed,
    summary: listed
      .map((t) => `[${t.status}] ${t.content}`)
      .join("; ")
      .slice(0, SUMMARY_MAX),
  };
}
