/**
 * The dashboard's view of tasks and instances. Tasks come typed from the API answers and
 * from the events alike (numbers, ISO dates, parsed JSON: docs/api.md, "Task events"); an
 * instance's registration event carries its Redis hash (every field a string, epoch-ms dates,
 * JSON as text) while the API answers it typed. These functions read either into one shape,
 * so the rest of the dashboard never cares.
 */

export const TASK_STATUSES = ["pending", "in_progress", "completed", "failed", "cancelled"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export interface TaskView {
  id: string;
  text: string;
  description?: string;
  status: TaskStatus;
  priority: number;
  channel?: string;
  assignedTo?: string;
  attempts: number;
  maxAttempts: number;
  deadLettered: boolean;
  metadata: Record<string, unknown>;
  result?: unknown;
  error?: string;
  /** Epoch ms. */
  createdAt: number;
  updatedAt: number;
  leaseExpiresAt?: number;
}

/** What an instance is, for the Instances view: a `claudebench worker`, a Claude Code session, or another agent. */
export type InstanceKind = "worker" | "session" | "agent";

export interface InstanceView {
  id: string;
  kind: InstanceKind;
  roles: string[];
  capabilities: string[];
  /** What it told at registration (a worker: command, host, pid, channel, concurrency). */
  metadata: Record<string, unknown>;
  sessionId?: string;
  cwd?: string;
  /** 0: no limit. A worker registers its concurrency here. */
  maxTasks: number;
  activeTasks?: number;
  status: string;
  statusText?: string;
  registeredAt?: number;
  lastSeen?: number;
}

type Raw = Record<string, unknown>;

/** Epoch ms from an epoch-ms string or number, or an ISO date; undefined when absent. */
function toMs(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value !== "string" || value === "") return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

const toNum = (value: unknown, fallback: number): number => {
  const n = typeof value === "number" ? value : typeof value === "string" ? Number(value) : Number.NaN;
  return Number.isFinite(n) ? n : fallback;
};

const optStr = (value: unknown): string | undefined =>
  typeof value === "string" && value !== "" ? value : undefined;

/** A JSON field: the hash holds its text, the API the value itself. */
function parsed(value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

const isStatus = (s: unknown): s is TaskStatus => TASK_STATUSES.includes(s as TaskStatus);

/** Undefined for something that is not a task (no id). */
export function toTask(raw: unknown): TaskView | undefined {
  if (!raw || typeof raw !== "object") return undefined;
  const r = raw as Raw;
  if (typeof r.id !== "string") return undefined;
  const metadata = parsed(r.metadata);
  const createdAt = toMs(r.createdAt) ?? 0;
  const task: TaskView = {
    id: r.id,
    text: typeof r.text === "string" ? r.text : "",
    status: isStatus(r.status) ? r.status : "pending",
    priority: toNum(r.priority, 50),
    attempts: toNum(r.attempts, 0),
    maxAttempts: toNum(r.maxAttempts, 1),
    deadLettered: r.deadLettered === true,
    metadata: metadata && typeof metadata === "object" ? (metadata as Record<string, unknown>) : {},
    createdAt,
    updatedAt: toMs(r.updatedAt) ?? createdAt,
  };
  const description = optStr(r.description);
  if (description !== undefined) task.description = description;
  const channel = optStr(r.channel);
  if (channel !== undefined) task.channel = channel;
  const assignedTo = optStr(r.assignedTo);
  if (assignedTo !== undefined) task.assignedTo = assignedTo;
  if (r.result !== undefined) task.result = parsed(r.result);
  const error = optStr(r.error);
  if (error !== undefined) task.error = error;
  const lease = toMs(r.leaseExpiresAt);
  if (lease !== undefined) task.leaseExpiresAt = lease;
  return task;
}

function toStrings(value: unknown): string[] {
  const list = parsed(value);
  return Array.isArray(list) ? list.filter((x): x is string => typeof x === "string") : [];
}

/** A worker says so in its metadata (`kind: "worker"`) or roles; Claude Code sessions register with the role `claude-code`. */
function kindOf(roles: readonly string[], metadata: Raw): InstanceKind {
  if (metadata.kind === "worker" || roles.includes("worker")) return "worker";
  if (roles.includes("claude-code")) return "session";
  return "agent";
}

export function toInstance(raw: unknown): InstanceView | undefined {
  if (!raw || typeof raw !== "object") return undefined;
  const r = raw as Raw;
  if (typeof r.id !== "string") return undefined;
  const parsedMetadata = parsed(r.metadata);
  const metadata = parsedMetadata && typeof parsedMetadata === "object" ? (parsedMetadata as Raw) : {};
  const roles = toStrings(r.roles);
  const instance: InstanceView = {
    id: r.id,
    kind: kindOf(roles, metadata),
    roles,
    capabilities: toStrings(r.capabilities),
    metadata,
    maxTasks: toNum(r.maxTasks, 0),
    status: optStr(r.status) ?? "active",
  };
  const sessionId = optStr(r.sessionId);
  if (sessionId !== undefined) instance.sessionId = sessionId;
  const cwd = optStr(metadata.cwd);
  if (cwd !== undefined) instance.cwd = cwd;
  const statusText = optStr(r.statusText);
  if (statusText !== undefined) instance.statusText = statusText;
  if (r.activeTasks !== undefined) instance.activeTasks = toNum(r.activeTasks, 0);
  const registeredAt = toMs(r.registeredAt);
  if (registeredAt !== undefined) instance.registeredAt = registeredAt;
  const lastSeen = toMs(r.lastSeen);
  if (lastSeen !== undefined) instance.lastSeen = lastSeen;
  return instance;
}
