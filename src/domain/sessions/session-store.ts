import type { Redis } from "ioredis";
import type { Keys } from "../../storage/keys.js";
import type { TaskQueue } from "../tasks/queue.js";
import { type InboxMessage, inboxSize, pushInbox, readInbox } from "./inbox.js";
import { masterOf, type SessionRole, setRole } from "./roles.js";
import { todoWriteEvent } from "./todo-event.js";
import { syncTodos, type Todo, type TodoSyncDeps, type TodoSyncResult } from "./todos.js";

/** A session's todo list as `syncTodos` needs it, beside the store's own connections. */
type TodoList = Omit<TodoSyncDeps, "redis" | "q" | "tasks">;

/**
 * What the server keeps per Claude Code session in Redis (its inbox, its role in a project, its
 * todo lists), bound to one connection and key set, so that handlers never hold either.
 */
export class SessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly tasks: TaskQueue,
  ) {}

  /** The waiting messages, oldest first; `drain` also empties the inbox. */
  readInbox(sessionId: string, drain: boolean): Promise<InboxMessage[]> {
    return readInbox(this.redis, this.keys, sessionId, drain);
  }

  /** Appends the message; not delivered when a message with the same dedupe key was appended before. */
  pushInbox(
    sessionId: string,
    message: Omit<InboxMessage, "id" | "at">,
    dedupeKey?: string,
  ): Promise<{ delivered: boolean; message: InboxMessage }> {
    return pushInbox(this.redis, this.keys, sessionId, message, dedupeKey);
  }

  inboxSize(sessionId: string): Promise<number> {
    return inboxSize(this.redis, this.keys, sessionId);
  }

  /** The project's master session, if it has one. */
  masterOf(project: string): Promise<string | null> {
    return masterOf(this.redis, this.keys, project);
  }

  /** Sets the session's role; resolves with the project's master before the change. */
  setRole(project: string, sessionId: string, role: SessionRole): Promise<string | null> {
    return setRole(this.redis, this.keys, project, sessionId, role);
  }

  /** Applies a TodoWrite to the list's tasks (todos.ts). */
  syncTodos(list: TodoList, todos: readonly Todo[]): Promise<TodoSyncResult> {
    return syncTodos({ ...list, redis: this.redis, q: this.keys.coordination, tasks: this.tasks }, todos);
  }

  /** The payload of `hook.todo_write.executed` (todo-event.ts). */
  todoWriteEvent(
    who: Parameters<typeof todoWriteEvent>[2],
    todos: readonly Todo[],
    result: TodoSyncResult,
  ): Promise<Record<string, unknown>> {
    return todoWriteEvent(this.redis, this.keys, who, todos, result);
  }
}
