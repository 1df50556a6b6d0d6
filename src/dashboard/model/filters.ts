import type { TaskStatus, TaskView } from "./records.js";
import type { HookDecision, LiveEvent } from "./store.js";

/**
 * The filters of the Tasks, Hooks and Events views. An empty field matches everything, so
 * the form's blank state shows all.
 */

export interface TaskFilter {
  status?: TaskStatus | "";
  channel?: string;
  /** The worker or instance holding the task. */
  assignee?: string;
  /** Tasks with at least this priority. */
  minPriority?: number;
  /** Case-insensitive substring of id, text or description. */
  text?: string;
}

const contains = (haystack: string | undefined, needle: string) =>
  haystack?.toLowerCase().includes(needle) === true;

function matchesTask(t: TaskView, f: TaskFilter): boolean {
  if (f.status && t.status !== f.status) return false;
  if (f.channel && t.channel !== f.channel) return false;
  if (f.assignee && t.assignedTo !== f.assignee) return false;
  if (f.minPriority !== undefined && t.priority < f.minPriority) return false;
  const text = f.text?.trim().toLowerCase();
  if (text && !contains(t.id, text) && !contains(t.text, text) && !contains(t.description, text))
    return false;
  return true;
}

/** The queue's order: higher priority first, then the older task first. */
const byQueueOrder = (a: TaskView, b: TaskView) => b.priority - a.priority || a.createdAt - b.createdAt;

export function filterTasks(tasks: Iterable<TaskView>, f: TaskFilter): TaskView[] {
  const out: TaskView[] = [];
  for (const t of tasks) if (matchesTask(t, f)) out.push(t);
  return out.sort(byQueueOrder);
}

/**
 * The tasks that pass every filter, grouped by status for the board, each column in queue
 * order: with a status filter, the other columns are empty.
 */
export function boardColumns(tasks: Iterable<TaskView>, f: TaskFilter = {}): Record<TaskStatus, TaskView[]> {
  const columns: Record<TaskStatus, TaskView[]> = {
    pending: [],
    in_progress: [],
    completed: [],
    failed: [],
    cancelled: [],
  };
  for (const t of filterTasks(tasks, f)) columns[t.status].push(t);
  return columns;
}

export interface HookFilter {
  /** A session id, or the instance id of the session (`cc-<session id>`). */
  session?: string;
  decision?: string;
}

export function filterHooks(hooks: readonly HookDecision[], f: HookFilter): HookDecision[] {
  const session = f.session?.trim();
  return hooks.filter(
    (h) =>
      (!f.decision || h.decision === f.decision) &&
      (!session || h.sessionId === session || h.instanceId === session),
  );
}

export interface EventFilter {
  /** Comma list of event-name prefixes, e.g. `task.,hook.`. */
  prefix?: string;
  /** Case-insensitive substring of the payload's JSON. */
  text?: string;
}

export function filterEvents(events: readonly LiveEvent[], f: EventFilter): LiveEvent[] {
  const prefixes = (f.prefix ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  const text = f.text?.trim().toLowerCase();
  return events.filter(
    (e) =>
      (prefixes.length === 0 || prefixes.some((p) => e.event.startsWith(p))) &&
      (!text || JSON.stringify(e.payload).toLowerCase().includes(text)),
  );
}

/** The tasks an instance holds now: in progress under its lease (a finished task keeps its last holder). */
export function tasksOf(tasks: Iterable<TaskView>, instanceId: string): TaskView[] {
  const out: TaskView[] = [];
  for (const t of tasks) if (t.assignedTo === instanceId && t.status === "in_progress") out.push(t);
  return out.sort(byQueueOrder);
}
