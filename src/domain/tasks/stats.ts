import type { Redis } from "ioredis";
import {
  type Percentiles,
  type QueueStats,
  TASK_STATUSES,
  type Task,
  type TaskStatus,
} from "../../contract/tasks.js";
import type { CoordinationKeys } from "../../storage/coordination-keys.js";

/** What the queue's reads need: its connection and key names, and its task readers (TaskQueue keeps the connection to itself). */
export interface QueueStore {
  readonly redis: Redis;
  readonly q: CoordinationKeys;
  get(taskId: string): Promise<Task | null>;
  getMany(ids: readonly string[]): Promise<Task[]>;
}

const MINUTES = 5;
/** Samples per percentile: the scripts keep at least this many, newest first, and trim in steps (coordination-prelude.lua). */
const SAMPLES = 1000;

export function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted.length ? (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0) : 0;
  return { samples: sorted.length, p50Ms: at(50), p95Ms: at(95), p99Ms: at(99) };
}

/** Tasks by status, cluster-wide, in one round trip. */
export async function taskCounts(queue: QueueStore): Promise<Record<TaskStatus, number>> {
  const { q, redis } = queue;
  const pipeline = redis.pipeline();
  for (const status of TASK_STATUSES) pipeline.zcard(q.status(status));
  const results = ((await pipeline.exec()) ?? []).map(([err, value]) => {
    if (err) throw err;
    return Number(value);
  });
  return Object.fromEntries(TASK_STATUSES.map((s, i) => [s, results[i] ?? 0])) as Record<TaskStatus, number>;
}

/** Queue figures in two round trips: the counters in one pipeline, then per-worker loads. */
export async function queueStats(queue: QueueStore): Promise<QueueStats> {
  const { q, redis } = queue;
  const minute = Math.floor(Date.now() / 60_000);
  const pipeline = redis.pipeline();
  for (const status of TASK_STATUSES) pipeline.zcard(q.status(status));
  pipeline.zcard(q.pending).zcard(q.delayed).zcard(q.leases).zcard(q.dead);
  pipeline.zrange(q.status("pending"), 0, 0);
  pipeline.lrange(q.statWait, 0, SAMPLES - 1).lrange(q.statRun, 0, SAMPLES - 1);
  for (let m = 0; m <= MINUTES; m++) pipeline.get(q.completionsInMinute(minute - m));
  pipeline.smembers(q.workers);
  const results = ((await pipeline.exec()) ?? []).map(([err, value]) => {
    if (err) throw err;
    return value;
  });
  let i = 0;
  const next = () => results[i++];
  const byStatus = Object.fromEntries(TASK_STATUSES.map((s) => [s, Number(next())])) as Record<
    TaskStatus,
    number
  >;
  const [queueDepth, delayed, activeLeases, deadLetters] = [next(), next(), next(), next()].map(Number) as [
    number,
    number,
    number,
    number,
  ];
  const oldestId = (next() as string[])[0];
  const waits = (next() as string[]).map(Number);
  const runs = (next() as string[]).map(Number);
  const perMinute = Array.from({ length: MINUTES + 1 }, () => Number(next() ?? 0));
  const workerIds = next() as string[];

  const oldest = oldestId ? await queue.get(oldestId) : null;
  return {
    byStatus,
    queueDepth,
    delayed,
    activeLeases,
    deadLetters,
    oldestPendingAgeMs: oldest ? Date.now() - Date.parse(oldest.createdAt) : null,
    waitTime: percentiles(waits),
    runTime: percentiles(runs),
    completionsThisMinute: perMinute[0] ?? 0,
    completionsPerMinute: perMinute.slice(1).reduce((a, b) => a + b, 0) / MINUTES,
    workers: await workerLoads(queue, workerIds),
  };
}

/** The tasks each of `workerIds` holds now, the busiest first; those holding none are left out. */
async function workerLoads(queue: QueueStore, workerIds: string[]): Promise<QueueStats["workers"]> {
  const { q, redis } = queue;
  const loads = await Promise.all(
    workerIds.map(async (w) => ({ workerId: w, activeTasks: await redis.scard(q.worker(w)) })),
  );
  return loads.filter((l) => l.activeTasks > 0).sort((a, b) => b.activeTasks - a.activeTasks);
}

/** What a time series of the queue samples: tasks by status and the tasks each worker holds. */
export interface QueueGauges {
  byStatus: Record<TaskStatus, number>;
  workers: QueueStats["workers"];
}

/** Tasks by status and per-worker loads, in two round trips. */
export async function queueGauges(queue: QueueStore): Promise<QueueGauges> {
  const { q, redis } = queue;
  const pipeline = redis.pipeline();
  for (const status of TASK_STATUSES) pipeline.zcard(q.status(status));
  pipeline.smembers(q.workers);
  const results = ((await pipeline.exec()) ?? []).map(([err, value]) => {
    if (err) throw err;
    return value;
  });
  const byStatus = Object.fromEntries(TASK_STATUSES.map((s, i) => [s, Number(results[i])])) as Record<
    TaskStatus,
    number
  >;
  return { byStatus, workers: await workerLoads(queue, results[TASK_STATUSES.length] as string[]) };
}

/**
 * Tasks completed and tasks that became failed in each of `count` minutes from `firstMinute`
 * (minutes since the epoch), cluster-wide, from the scripts' per-minute counters (kept two hours).
 */
export async function finishedPerMinute(
  queue: QueueStore,
  firstMinute: number,
  count: number,
): Promise<{ completed: number[]; failed: number[] }> {
  if (count === 0) return { completed: [], failed: [] };
  const { q, redis } = queue;
  const minutes = Array.from({ length: count }, (_, i) => firstMinute + i);
  const values = await redis.mget(
    ...minutes.map((m) => q.completionsInMinute(m)),
    ...minutes.map((m) => q.failuresInMinute(m)),
  );
  const counts = values.map((v) => Number(v ?? 0));
  return { completed: counts.slice(0, count), failed: counts.slice(count) };
}
