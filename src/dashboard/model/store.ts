import {
  type InstanceView,
  TASK_STATUSES,
  type TaskStatus,
  type TaskView,
  toInstance,
  toTask,
} from "./records.js";

/**
 * The dashboard's state, built from the live event stream (docs/api.md, "Live events") and
 * from API snapshots. No DOM: the unit tests drive it with plain events. Every collection is
 * bounded, so a page left open for days on a busy fleet keeps a steady footprint.
 */

export interface LiveEvent {
  /** Stream id `<ms>-<seq>`: ordered, the resume point. */
  id: string;
  event: string;
  payload: Record<string, unknown>;
  source?: string;
  ts: number;
}

/** One transition of a task, for its detail view. */
export interface HistoryEntry {
  id: string;
  event: string;
  ts: number;
  status: TaskStatus;
  /** The worker that caused it (claimed, completed, failed), when the event says. */
  actor?: string;
  /** The worker that held the task until then (cancelled, unassigned): not who acted. */
  heldBy?: string;
  detail?: string;
}

export interface HookDecision {
  id: string;
  ts: number;
  sessionId?: string;
  instanceId?: string;
  tool: string;
  summary?: string;
  decision: string;
  rule?: string;
  reason?: string;
}

export interface Breaker {
  method: string;
  state: string;
  openUntil: number;
}

export interface Limits {
  tasks: number;
  events: number;
  hooks: number;
  historyPerTask: number;
}

const DEFAULT_LIMITS: Limits = { tasks: 20_000, events: 2_000, hooks: 1_000, historyPerTask: 50 };

const TERMINAL: ReadonlySet<TaskStatus> = new Set(["completed", "failed", "cancelled"]);

/** Stream ids compare as (ms, seq) pairs, not as strings ("9-0" < "10-0"). */
export function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split("-").map(Number);
  const [bm = 0, bs = 0] = b.split("-").map(Number);
  return am - bm || as - bs;
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** Drops the oldest entries once a list is a quarter over its cap: amortised O(1) per push. */
function capped<T>(list: T[], cap: number): T[] {
  return list.length > cap + Math.ceil(cap / 4) ? list.slice(list.length - cap) : list;
}

export class DashboardStore {
  readonly tasks = new Map<string, TaskView>();
  readonly history = new Map<string, HistoryEntry[]>();
  readonly instances = new Map<string, InstanceView>();
  readonly breakers = new Map<string, Breaker>();
  /** Events and hook decisions, oldest first. */
  events: LiveEvent[] = [];
  hooks: HookDecision[] = [];
  /** Events seen per name since the page opened. */
  readonly counts = new Map<string, number>();
  partitioned = false;
  /** The last event applied: where a reconnect resumes. */
  lastEventId: string | undefined;
  /** Bumped by every change, so a renderer redraws only when something moved. */
  version = 0;

  constructor(readonly limits: Limits = DEFAULT_LIMITS) {}

  /** Applies one live event; one seen before (a replay overlapping a reconnect) is ignored. */
  apply(e: LiveEvent): void {
    if (this.lastEventId !== undefined && compareIds(e.id, this.lastEventId) <= 0) return;
    this.lastEventId = e.id;
    this.version++;
    this.counts.set(e.event, (this.counts.get(e.event) ?? 0) + 1);
    this.events.push(e);
    this.events = capped(this.events, this.limits.events);

    const p = e.payload ?? {};
    if (e.event.startsWith("task.")) this.#taskEvent(e, p);
    else if (e.event === "hook.pre_tool.decided") this.#hookDecision(e, p);
    else if (e.event.startsWith("circuit.")) {
      const method = str(p.method);
      if (method)
        this.breakers.set(method, {
          method,
          state: str(p.state) ?? "closed",
          openUntil: Number(p.openUntil) || 0,
        });
    } else if (e.event === "instance.registered") {
      const instance = toInstance(p.instance);
      if (instance) this.instances.set(instance.id, { ...this.instances.get(instance.id), ...instance });
    } else if (e.event === "instance.unregistered") {
      const id = str(p.instanceId);
      if (id) this.instances.delete(id);
    } else if (e.event === "instance.failed") {
      const id = str(p.instanceId);
      const known = id ? this.instances.get(id) : undefined;
      if (known) known.status = "failed";
    } else if (e.event === "cluster.partition.detected") this.partitioned = true;
    else if (e.event === "cluster.partition.cleared") this.partitioned = false;
  }

  /** A snapshot from `task.list`: newer state already known from events is kept. */
  loadTasks(list: readonly unknown[]): void {
    for (const raw of list) {
      const task = toTask(raw);
      if (task) this.#upsert(task);
    }
    this.#evict();
    this.version++;
  }

  /** A snapshot from `system.instances`: the full list of live instances. */
  loadInstances(list: readonly unknown[]): void {
    const seen = new Set<string>();
    for (const raw of list) {
      const instance = toInstance(raw);
      if (!instance) continue;
      seen.add(instance.id);
      this.instances.set(instance.id, instance);
    }
    for (const id of this.instances.keys()) if (!seen.has(id)) this.instances.delete(id);
    this.version++;
  }

  /** A snapshot from `system.circuits`. */
  loadBreakers(list: readonly Breaker[]): void {
    this.breakers.clear();
    for (const b of list) this.breakers.set(b.method, b);
    this.version++;
  }

  countByStatus(): Record<TaskStatus, number> {
    const counts = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;
    for (const t of this.tasks.values()) counts[t.status]++;
    return counts;
  }

  openBreakers(): Breaker[] {
    return [...this.breakers.values()].filter((b) => b.state !== "closed");
  }

  deadLetters(): TaskView[] {
    return [...this.tasks.values()].filter((t) => t.deadLettered);
  }

  #taskEvent(e: LiveEvent, p: Record<string, unknown>): void {
    const task = toTask(p.task);
    if (!task) return;
    if (e.event === "task.deleted") {
      this.tasks.delete(task.id);
      this.history.delete(task.id);
    } else {
      this.#upsert(task);
      this.#evict();
    }
    const entry: HistoryEntry = { id: e.id, event: e.event, ts: e.ts, status: task.status };
    const actor = str(p.workerId);
    if (actor) entry.actor = actor;
    const heldBy = str(p.previousAssignment);
    if (heldBy) entry.heldBy = heldBy;
    const detail =
      str(p.reason) ??
      str(p.error) ??
      (Array.isArray(p.changed) ? `changed ${p.changed.join(", ")}` : undefined);
    if (detail) entry.detail = detail;
    if (!this.tasks.has(task.id)) return;
    const history = this.history.get(task.id) ?? [];
    history.push(entry);
    this.history.set(task.id, capped(history, this.limits.historyPerTask));
  }

  #hookDecision(e: LiveEvent, p: Record<string, unknown>): void {
    const decision: HookDecision = {
      id: e.id,
      ts: e.ts,
      tool: str(p.tool) ?? "?",
      decision: str(p.decision) ?? "allow",
    };
    for (const key of ["sessionId", "instanceId", "summary", "rule", "reason"] as const) {
      const value = str(p[key]);
      if (value !== undefined) decision[key] = value;
    }
    this.hooks.push(decision);
    this.hooks = capped(this.hooks, this.limits.hooks);
  }

  #upsert(task: TaskView): void {
    const known = this.tasks.get(task.id);
    if (known && known.updatedAt > task.updatedAt) return;
    this.tasks.set(task.id, task);
  }

  /**
   * Over the cap, finished tasks go first, the least recently changed first. It frees a tenth
   * of the cap at once, so a page at its cap does not sort the tasks on every event.
   */
  #evict(): void {
    if (this.tasks.size <= this.limits.tasks) return;
    const excess = this.tasks.size - this.limits.tasks + Math.floor(this.limits.tasks / 10);
    const finished = [...this.tasks.values()]
      .filter((t) => TERMINAL.has(t.status))
      .sort((a, b) => a.updatedAt - b.updatedAt);
    const victims =
      finished.length >= excess
        ? finished
        : [...this.tasks.values()].sort((a, b) => a.updatedAt - b.updatedAt);
    for (const t of victims.slice(0, excess)) {
      this.tasks.delete(t.id);
      this.history.delete(t.id);
    }
  }
}
