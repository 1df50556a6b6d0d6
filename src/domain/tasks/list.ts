import type { Task, TaskStatus } from "../../contract/tasks.js";
import type { QueueStore } from "./stats.js";

export const ORDER_FIELDS = ["createdAt", "updatedAt", "priority", "status", "assignedTo"] as const;
type OrderField = (typeof ORDER_FIELDS)[number];

export interface TaskFilter {
  status?: TaskStatus;
  assignedTo?: string;
  channel?: string;
  /** Exactly this priority. */
  priority?: number;
  minPriority?: number;
  maxPriority?: number;
  /** Case-insensitive substring of text or description. */
  text?: string;
}

export interface ListQuery extends TaskFilter {
  limit: number;
  offset: number;
  orderBy: OrderField;
  order: "asc" | "desc";
}

export interface ListResult {
  tasks: Task[];
  totalCount: number;
  hasMore: boolean;
}

/** How many tasks a filtered list reads at most; beyond it the answer says it is partial. */
const LIST_SCAN_LIMIT = 50_000;
const CHUNK = 500;

const hasFieldFilter = (f: TaskFilter) =>
  f.assignedTo !== undefined ||
  f.channel !== undefined ||
  f.priority !== undefined ||
  f.minPriority !== undefined ||
  f.maxPriority !== undefined ||
  f.text !== undefined;

export function matches(task: Task, f: TaskFilter): boolean {
  if (f.status !== undefined && task.status !== f.status) return false;
  if (f.assignedTo !== undefined && task.assignedTo !== f.assignedTo) return false;
  if (f.channel !== undefined && task.channel !== f.channel) return false;
  if (f.priority !== undefined && task.priority !== f.priority) return false;
  if (f.minPriority !== undefined && task.priority < f.minPriority) return false;
  if (f.maxPriority !== undefined && task.priority > f.maxPriority) return false;
  if (f.text !== undefined) {
    const needle = f.text.toLowerCase();
    if (!task.text.toLowerCase().includes(needle) && !task.description?.toLowerCase().includes(needle))
      return false;
  }
  return true;
}

function compare(field: OrderField): (a: Task, b: Task) => number {
  switch (field) {
    case "createdAt":
      return (a, b) => Number(a.id.slice(2)) - Number(b.id.slice(2));
    case "priority":
      return (a, b) => a.priority - b.priority || Number(a.id.slice(2)) - Number(b.id.slice(2));
    default:
      return (a, b) =>
        String(a[field] ?? "").localeCompare(String(b[field] ?? "")) ||
        Number(a.id.slice(2)) - Number(b.id.slice(2));
  }
}

/**
 * Lists tasks still in Redis. Creation order (and status) come straight from the sorted-set
 * indexes, so the common listing is a ZRANGE of one page; other filters and orderings read
 * the candidates in chunks (up to LIST_SCAN_LIMIT) and sort in memory.
 */
export async function listTasks({ redis, q, getMany }: QueueStore, query: ListQuery): Promise<ListResult> {
  const index = query.status ? q.status(query.status) : q.all;
  if (!hasFieldFilter(query) && query.orderBy === "createdAt") {
    const [total, ids] = await Promise.all([
      redis.zcard(index),
      query.order === "asc"
        ? redis.zrange(index, query.offset, query.offset + query.limit - 1)
        : redis.zrange(index, query.offset, query.offset + query.limit - 1, "REV"),
    ]);
    const tasks = await getMany(ids);
    return { tasks, totalCount: total, hasMore: query.offset + ids.length < total };
  }
  const ids = await redis.zrange(index, 0, LIST_SCAN_LIMIT - 1);
  const found: Task[] = [];
  for (let i = 0; i < ids.length; i += CHUNK) {
    for (const task of await getMany(ids.slice(i, i + CHUNK))) if (matches(task, query)) found.push(task);
  }
  const byField = compare(query.orderBy);
  found.sort(query.order === "asc" ? byField : (a, b) => byField(b, a));
  return {
    tasks: found.slice(query.offset, query.offset + query.limit),
    totalCount: found.length,
    hasMore: query.offset + query.limit < found.length,
  };
}
