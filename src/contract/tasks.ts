/** The task and the queue statistics as the API answers them (task.get, task.stats, events). */

export const TASK_STATUSES = ["pending", "in_progress", "completed", "failed", "cancelled"] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** Named priorities accepted wherever a priority is (the original's names). */
export const PRIORITY_NAMES = { low: 25, medium: 50, high: 75, critical: 100 } as const;

export interface Task {
  id: string;
  text: string;
  description?: string;
  priority: number;
  status: TaskStatus;
  channel?: string;
  /** Capabilities a worker must have to claim it. */
  requires?: string[];
  assignedTo?: string;
  attempts: number;
  maxAttempts: number;
  metadata: Record<string, unknown>;
  result?: unknown;
  error?: string;
  deadLettered?: boolean;
  createdAt: string;
  updatedAt: string;
  claimedAt?: string;
  completedAt?: string;
  /** Fencing token of the current lease (grows with every claim). */
  leaseToken?: number;
  leaseExpiresAt?: string;
  /** When a pending task expires (ttl). */
  expiresAt?: string;
  /** When a delayed or backing-off task becomes claimable. */
  runAfter?: string;
}

export interface Percentiles {
  samples: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

export interface QueueStats {
  byStatus: Record<TaskStatus, number>;
  /** Claimable now. */
  queueDepth: number;
  /** Pending but not yet due (delay or retry backoff). */
  delayed: number;
  activeLeases: number;
  deadLetters: number;
  oldestPendingAgeMs: number | null;
  /** Created → claimed, over the most recent claims. */
  waitTime: Percentiles;
  /** Claimed → completed, over the most recent completions. */
  runTime: Percentiles;
  /** Completions so far in the current (partial) minute. */
  completionsThisMinute: number;
  /** Mean completions per minute over the last 5 whole minutes. */
  completionsPerMinute: number;
  workers: { workerId: string; activeTasks: number }[];
}
