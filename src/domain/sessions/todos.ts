import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { Task } from "../../contract/tasks.js";
import { AppError } from "../../core/errors.js";
import type { CoordinationKeys } from "../../storage/coordination-keys.js";
import { SESSION_TIMEOUT_MS } from "../coordination/identity.js";
import type { TaskQueue } from "../tasks/queue.js";

/**
 * TodoWrite → tasks. Each session keeps a mapping todo → task (in Redis, per session, so
 * sessions never share state). Every TodoWrite carries the whole list; it is matched against
 * the previous one:
 *   1. the same todo `id` (older Claude Code builds send one), else
 *   2. the same text, else
 *   3. the same position with similar wording (word overlap ≥ 0.5): a reworded todo, else
 *   4. the most similar unmatched previous todo (overlap ≥ 0.7), else
 *   5. a new task.
 * A previous todo left unmatched disappeared: its task is cancelled. Status follows:
 * in_progress claims the task for the session, completed completes it (claiming first when
 * needed), pending gives it back. Each step is one atomic transition of the task engine.
 * A session holds its todo for as long as the session lives, not for a worker's lease: the lease
 * is the session's timeout, renewed by every TodoWrite that keeps the todo in progress (a
 * worker-length lease would put the todo back in the shared queue mid-work, where any worker
 * could claim it, and burn its attempts until it is dead-lettered).
 */

export interface Todo {
  content: string;
  status: "pending" | "in_progress" | "completed";
  activeForm?: string;
  id?: string;
  priority?: string;
}

interface Mapped {
  taskId: string;
  content: string;
  todoId?: string;
}

interface TodoOutcome {
  content: string;
  taskId: string;
  status: Todo["status"];
  action: "created" | "kept" | "reworded" | "conflict";
}

export interface TodoSyncResult {
  todos: TodoOutcome[];
  cancelled: string[];
  /** Todos kept from the previous list whose task moved to their status now (started, completed, given back). */
  statusChanged: number;
}

/**
 * What a TodoWrite changed, in the original ClaudeBench's terms (its handler's statistics and
 * changes; its hook bridge passes this on as `summary`): the list as written, and what became
 * of it here.
 */
interface TodoSummary {
  total: number;
  pending: number;
  in_progress: number;
  completed: number;
  /** New todos: a task created for each. */
  added: number;
  /** Todos gone from the list: their tasks cancelled. */
  removed: number;
  statusChanged: number;
  /** Todos whose task another session holds or that was finished elsewhere: left alone. */
  conflicts: number;
}

export function summarizeTodos(todos: readonly Todo[], result: TodoSyncResult): TodoSummary {
  const count = (status: Todo["status"]) => todos.filter((t) => t.status === status).length;
  const actions = (action: TodoOutcome["action"]) => result.todos.filter((t) => t.action === action).length;
  return {
    total: todos.length,
    pending: count("pending"),
    in_progress: count("in_progress"),
    completed: count("completed"),
    added: actions("created"),
    removed: result.cancelled.length,
    statusChanged: result.statusChanged,
    conflicts: actions("conflict"),
  };
}

const PRIORITY: Record<string, number> = { low: 25, medium: 50, high: 75 };

const words = (s: string) => new Set(s.toLowerCase().match(/[a-z0-9]+/g) ?? []);

function similarity(a: string, b: string): number {
  const x = words(a);
  const y = words(b);
  if (x.size === 0 && y.size === 0) return 1;
  let shared = 0;
  for (const w of x) if (y.has(w)) shared++;
  return shared / (x.size + y.size - shared);
}

/** For each todo, the index of the previous todo it continues, or -1 for a new one. */
function matchTodos(previous: readonly Mapped[], todos: readonly Todo[]): number[] {
  const used = new Set<number>();
  const take = (i: number) => {
    used.add(i);
    return i;
  };
  const free = (i: number) => i >= 0 && !used.has(i);
  const result = todos.map(() => -1);
  // exact matches first, so a reorder never steals a todo's own task
  todos.forEach((todo, i) => {
    const byId = todo.id ? previous.findIndex((p, j) => free(j) && p.todoId === todo.id) : -1;
    const byText = byId >= 0 ? byId : previous.findIndex((p, j) => free(j) && p.content === todo.content);
    if (byText >= 0) result[i] = take(byText);
  });
  todos.forEach((todo, i) => {
    if (result[i] !== -1) return;
    const same = previous[i];
    if (same && free(i) && similarity(same.content, todo.content) >= 0.5) {
      result[i] = take(i);
      return;
    }
    let best = -1;
    let bestScore = 0.7;
    previous.forEach((p, j) => {
      const score = free(j) ? similarity(p.content, todo.content) : 0;
      if (score >= bestScore) {
        best = j;
        bestScore = score;
      }
    });
    if (best >= 0) result[i] = take(best);
  });
  return result;
}

export interface TodoSyncDeps {
  redis: Redis;
  q: CoordinationKeys;
  tasks: TaskQueue;
  /** The session's instance id: it holds the session's in-progress todos. */
  holder: string;
  sessionId: string;
  channel: string;
  /**
   * Whose list this is (default: the holder). A subagent has its own TodoWrite list within
   * its session, so that its list never replaces (and cancels) the main agent's.
   */
  list?: string;
}

const LOCK_TTL_MS = 10_000;
/** Deletes the lock only when it is still ours (it may have expired and been taken since). */
const RELEASE =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/**
 * One list's TodoWrites are applied one at a time (across servers): two applied at once would
 * both start from the same previous list, create the same todos twice and lose one mapping.
 */
export async function syncTodos(deps: TodoSyncDeps, todos: readonly Todo[]): Promise<TodoSyncResult> {
  const list = deps.list ?? deps.holder;
  const key = deps.q.todoList(list);
  const lock = deps.q.todoListLock(list);
  const owner = randomUUID();
  const deadline = Date.now() + LOCK_TTL_MS;
  while ((await deps.redis.set(lock, owner, "PX", LOCK_TTL_MS, "NX")) !== "OK") {
    if (Date.now() > deadline)
      throw new AppError("CONFLICT", "another TodoWrite of this list is still being applied; try again");
    await new Promise((r) => setTimeout(r, 10 + Math.random() * 20));
  }
  try {
    return await applyTodos(deps, key, todos);
  } finally {
    await deps.redis.eval(RELEASE, 1, lock, owner);
  }
}

async function applyTodos(deps: TodoSyncDeps, key: string, todos: readonly Todo[]): Promise<TodoSyncResult> {
  const previous = JSON.parse((await deps.redis.get(key)) ?? "[]") as Mapped[];
  const matches = matchTodos(previous, todos);
  const outcomes: TodoOutcome[] = [];
  const next: Mapped[] = [];
  let statusChanged = 0;

  for (const [i, todo] of todos.entries()) {
    const text = todo.content.slice(0, 2000) || "(empty todo)";
    const earlier = previous[matches[i] ?? -1];
    let task: Task | null = earlier ? await deps.tasks.get(earlier.taskId) : null;
    let action: TodoOutcome["action"] = "kept";
    if (!task) {
      ({ task } = await deps.tasks.create({
        text,
        priority: PRIORITY[todo.priority ?? ""] ?? 50,
        channel: deps.channel,
        maxAttempts: 3,
        metadata: {
          sessionId: deps.sessionId,
          source: "TodoWrite",
          ...(todo.activeForm ? { activeForm: todo.activeForm } : {}),
        },
      }));
      action = "created";
    } else if (earlier && earlier.content !== todo.content) {
      task = await deps.tasks.update(task.id, { text });
      action = "reworded";
    }
    try {
      if ((await follow(deps, task, todo.status)) && action !== "created") statusChanged++;
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      action = "conflict"; // someone else holds it, or it was finished elsewhere: leave it
    }
    outcomes.push({ content: todo.content, taskId: task.id, status: todo.status, action });
    next.push({ taskId: task.id, content: todo.content, ...(todo.id ? { todoId: todo.id } : {}) });
  }

  const kept = new Set(matches);
  const cancelled: string[] = [];
  for (const [j, gone] of previous.entries()) {
    if (kept.has(j)) continue;
    try {
      await deps.tasks.cancel(gone.taskId, "todo removed");
      cancelled.push(gone.taskId);
    } catch (err) {
      if (!(err instanceof AppError)) throw err; // already finished or deleted: nothing to do
    }
  }
  await deps.redis.set(key, JSON.stringify(next), "EX", 7 * 24 * 3600);
  return { todos: outcomes, cancelled, statusChanged };
}

/** Moves the task toward the todo's status, as the session; true when it moved. */
async function follow(deps: TodoSyncDeps, task: Task, status: Todo["status"]): Promise<boolean> {
  const mine = task.status === "in_progress" && task.assignedTo === deps.holder;
  switch (status) {
    case "in_progress":
      if (mine) {
        await deps.tasks.renew(task.id, { workerId: deps.holder }, SESSION_TIMEOUT_MS);
        return false;
      }
      if (task.status === "pending") await deps.tasks.assign(task.id, deps.holder, 0, SESSION_TIMEOUT_MS);
      else if (task.status !== "in_progress")
        await deps.tasks
          .retry(task.id)
          .then((t) => deps.tasks.assign(t.id, deps.holder, 0, SESSION_TIMEOUT_MS));
      else return false; // another holder's: left alone
      return true;
    case "completed":
      if (task.status === "completed") return false;
      if (task.status === "pending") await deps.tasks.assign(task.id, deps.holder);
      else if (!mine) throw new AppError("CONFLICT", `task ${task.id} is ${task.status}`);
      await deps.tasks.complete(task.id, { workerId: deps.holder });
      return true;
    case "pending":
      if (!mine) return false;
      await deps.tasks.release(task.id, { workerId: deps.holder });
      return true;
  }
}
