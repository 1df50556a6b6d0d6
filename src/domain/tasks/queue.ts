import { randomInt } from "node:crypto";
import type { Redis } from "ioredis";
import type { QueueStats, Task, TaskStatus } from "../../contract/tasks.js";
import { AppError } from "../../core/errors.js";
import type { CoordinationKeys } from "../../storage/coordination-keys.js";
import type { Keys } from "../../storage/keys.js";
import { type CoordinationScript, CoordinationScripts } from "../../storage/scripts.js";
import { type ListQuery, type ListResult, listTasks } from "./list.js";
import { taskFromFlat, taskFromJson } from "./model.js";
import {
  finishedPerMinute,
  type QueueGauges,
  type QueueStore,
  queueGauges,
  queueStats,
  taskCounts,
} from "./stats.js";

/**
 * The priority task queue. Every state transition is one Lua script (storage/lua); this class
 * turns arguments into ARGV and script answers into tasks or typed errors. It is used by the
 * task handlers and, directly, by in-process workers (the client library without HTTP).
 */

export interface QueueSettings {
  /** Default lease length. */
  leaseMs: number;
  /** First retry delay; doubles per attempt up to `backoffMaxMs` (±20 % jitter). */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Refuse new tasks when pending + delayed reaches this (0 = no limit). */
  maxQueued: number;
  /** How many pending tasks a claim inspects when skipping ones the worker cannot take. */
  claimScanLimit: number;
  /** How long an idempotency key remembers its task. */
  idempotencyTtlSec: number;
}

export const DEFAULT_QUEUE_SETTINGS: QueueSettings = {
  leaseMs: 30_000,
  backoffBaseMs: 1000,
  backoffMaxMs: 300_000,
  maxQueued: 0,
  claimScanLimit: 1000,
  idempotencyTtlSec: 86_400,
};

interface CreateTaskInput {
  text: string;
  priority: number;
  description?: string;
  channel?: string;
  metadata?: Record<string, unknown>;
  maxAttempts: number;
  /** Seconds a pending task may wait before it expires. */
  ttlSec?: number;
  /** Milliseconds before the task becomes claimable. */
  delayMs?: number;
  idempotencyKey?: string;
  requires?: string[];
}

interface ClaimInput {
  workerId: string;
  /** How many tasks to claim now (1..10). */
  count: number;
  leaseMs?: number;
  channel?: string;
  capabilities?: string[];
  /** Most tasks the worker may hold at once (0 = no limit); "registered": its registered maxTasks. */
  capacity?: number | "registered";
}

/** Who asks to act on a leased task: the worker id, the lease token, or both. */
interface Holder {
  workerId?: string;
  token?: number;
}

interface UpdateTaskInput {
  text?: string;
  priority?: number;
  description?: string | null;
  channel?: string | null;
  maxAttempts?: number;
  status?: TaskStatus;
  /** Merged entry by entry; a null value removes the entry. */
  metadata?: Record<string, unknown>;
}

type Reply = [string, ...unknown[]];

export class TaskQueue {
  readonly scripts: CoordinationScripts;
  readonly q: CoordinationKeys;
  /** Its connection stays inside: whoever holds the queue changes tasks only through its scripts. */
  readonly #redis: Redis;
  /** What the reads of list.ts and stats.ts need, made once. */
  readonly #store: QueueStore;

  constructor(
    redis: Redis,
    keys: Keys,
    source: string,
    eventMaxLen: number,
    readonly settings: QueueSettings = DEFAULT_QUEUE_SETTINGS,
  ) {
    this.#redis = redis;
    this.#store = {
      redis,
      q: keys.coordination,
      get: (id) => this.get(id),
      getMany: (ids) => this.getMany(ids),
    };
    this.scripts = new CoordinationScripts(redis, keys, source, eventMaxLen);
    this.q = keys.coordination;
  }

  /** A page of the tasks still in Redis (list.ts). */
  list(query: ListQuery): Promise<ListResult> {
    return listTasks(this.#store, query);
  }

  /** Tasks by status, cluster-wide. */
  counts(): Promise<Record<TaskStatus, number>> {
    return taskCounts(this.#store);
  }

  /** The queue's figures for task.stats. */
  stats(): Promise<QueueStats> {
    return queueStats(this.#store);
  }

  /** Tasks by status and per-worker loads, for the queue sampler. */
  gauges(): Promise<QueueGauges> {
    return queueGauges(this.#store);
  }

  /** Completions and failures per minute, `count` minutes from `firstMinute` (stats.ts). */
  finishedPerMinute(firstMinute: number, count: number): Promise<{ completed: number[]; failed: number[] }> {
    return finishedPerMinute(this.#store, firstMinute, count);
  }

  async create(input: CreateTaskInput): Promise<{ task: Task; duplicate: boolean }> {
    const metadata = Object.entries(input.metadata ?? {}).flatMap(([k, v]) => [k, JSON.stringify(v)]);
    const reply = (await this.scripts.run("createTask", this.q.seq, [
      input.text,
      input.priority,
      input.description ?? "",
      input.channel ?? "",
      input.maxAttempts,
      input.delayMs ?? 0,
      Math.round((input.ttlSec ?? 0) * 1000),
      input.idempotencyKey ?? "",
      this.settings.idempotencyTtlSec,
      this.settings.maxQueued,
      input.requires?.length ? JSON.stringify(input.requires) : "",
      ...metadata,
    ])) as Reply;
    const [code, payload] = reply;
    if (code === "QUEUE_FULL") {
      throw new AppError("QUEUE_FULL", `The queue is full (${payload} tasks waiting); try again later`, {
        queued: Number(payload),
        limit: this.settings.maxQueued,
      });
    }
    return { task: taskFromJson(payload as string), duplicate: code === "DUPLICATE" };
  }

  async claim(input: ClaimInput): Promise<Task[]> {
    const reply = (await this.scripts.run(
      "claimTasks",
      input.channel ? this.q.channel(input.channel) : this.q.pending,
      [input.workerId, ...this.#claimArgs(input)],
    )) as Reply;
    return claimedTasks(reply);
  }

  async assign(
    taskId: string,
    workerId: string,
    capacity: number | "registered" = 0,
    leaseMs?: number,
  ): Promise<Task> {
    const reply = (await this.scripts.run("assignTask", this.q.task(taskId), [
      taskId,
      workerId,
      leaseMs ?? this.settings.leaseMs,
      capacity,
    ])) as Reply;
    if (reply[0] === "AT_CAPACITY") {
      throw new AppError("CONFLICT", `Worker ${workerId} already holds its maximum of ${reply[2]} tasks`, {
        taskId,
        workerId,
        held: Number(reply[1]),
        capacity: Number(reply[2]),
      });
    }
    return this.#task(reply, taskId, "assign");
  }

  async renew(taskId: string, holder: Holder, leaseMs?: number): Promise<Task> {
    const reply = (await this.scripts.run("renewLease", this.q.task(taskId), [
      taskId,
      ...holderArgs(holder),
      leaseMs ?? this.settings.leaseMs,
    ])) as Reply;
    return this.#task(reply, taskId, "renew");
  }

  async complete(taskId: string, holder: Holder, result?: unknown): Promise<Task> {
    const reply = (await this.scripts.run("completeTask", this.q.task(taskId), [
      taskId,
      ...holderArgs(holder),
      result === undefined ? "" : JSON.stringify(result),
    ])) as Reply;
    return this.#task(reply, taskId, "complete");
  }

  /**
   * Completes a task and, in the same script, claims the next task(s) for the worker that held it
   * (one round trip where complete + claim take two). Nothing is claimed when the completion is
   * refused (the typed error, as `complete`).
   */
  async completeAndClaim(
    taskId: string,
    holder: Holder,
    result: unknown,
    next: Omit<ClaimInput, "workerId">,
  ): Promise<{ task: Task; next: Task[] }> {
    const reply = (await this.scripts.run("completeAndClaim", this.q.task(taskId), [
      taskId,
      ...holderArgs(holder),
      result === undefined ? "" : JSON.stringify(result),
      ...this.#claimArgs(next),
      next.channel ?? "",
    ])) as Reply;
    return {
      task: this.#task(reply, taskId, "complete"),
      next: reply[0] === "OK" ? claimedTasks(reply[2] as Reply) : [],
    };
  }

  /** Reports a failure: `retrying` when the task will be tried again after a backoff. */
  async fail(
    taskId: string,
    holder: Holder,
    error: string,
    retryable: boolean,
  ): Promise<{ task: Task; retrying: boolean }> {
    const reply = (await this.scripts.run("failTask", this.q.task(taskId), [
      taskId,
      ...holderArgs(holder),
      error,
      retryable ? "1" : "0",
      this.settings.backoffBaseMs,
      this.settings.backoffMaxMs,
      randomInt(2 ** 31),
    ])) as Reply;
    return { task: this.#task(reply, taskId, "fail"), retrying: reply[0] === "RETRY" };
  }

  /** Back to pending at its original place; without a holder (admin) whoever holds it. */
  async release(taskId: string, holder: Holder = {}): Promise<{ task: Task; previousHolder: string }> {
    const reply = (await this.scripts.run("releaseTask", this.q.task(taskId), [
      taskId,
      ...holderArgs(holder),
    ])) as Reply;
    return { task: this.#task(reply, taskId, "release"), previousHolder: String(reply[2] ?? "") };
  }

  async cancel(taskId: string, reason = ""): Promise<Task> {
    const reply = (await this.scripts.run("cancelTask", this.q.task(taskId), [taskId, reason])) as Reply;
    return this.#task(reply, taskId, "cancel");
  }

  async delete(taskId: string): Promise<Task> {
    const reply = (await this.scripts.run("deleteTask", this.q.task(taskId), [taskId, "", ""])) as Reply;
    return this.#task(reply, taskId, "delete");
  }

  /** Deletes up to `limit` tasks in `status` (and `channel`); each delete re-checks both atomically. */
  async deleteWhere(status: TaskStatus, channel: string | undefined, limit: number): Promise<string[]> {
    const ids = await this.#redis.zrange(this.q.status(status), 0, limit - 1);
    if (ids.length === 0) return [];
    const pipeline = this.#redis.pipeline();
    for (const id of ids)
      this.scripts.queue(pipeline, "deleteTask", this.q.task(id), [id, status, channel ?? ""]);
    const replies = await this.scripts.exec(pipeline);
    return ids.filter((_, i) => {
      const [err, reply] = replies[i] ?? [];
      return !err && (reply as Reply)[0] === "OK";
    });
  }

  async retry(taskId: string): Promise<Task> {
    const reply = (await this.scripts.run("retryTask", this.q.task(taskId), [taskId])) as Reply;
    return this.#task(reply, taskId, "retry");
  }

  async update(taskId: string, changes: UpdateTaskInput): Promise<Task> {
    const pairs: (string | number)[] = [];
    const put = (field: string, value: string | number | null | undefined) => {
      if (value !== undefined) pairs.push(field, value === null ? "" : value);
    };
    put("text", changes.text);
    put("priority", changes.priority);
    put("description", changes.description);
    put("channel", changes.channel);
    put("maxAttempts", changes.maxAttempts);
    put("status", changes.status);
    for (const [key, value] of Object.entries(changes.metadata ?? {})) {
      put(`m:${key}`, value === null ? null : JSON.stringify(value));
    }
    const reply = (await this.scripts.run("updateTask", this.q.task(taskId), [taskId, ...pairs])) as Reply;
    return this.#task(reply, taskId, "update");
  }

  async get(taskId: string): Promise<Task | null> {
    const flat = await this.#redis.call("HGETALL", this.q.task(taskId));
    return Array.isArray(flat) && flat.length > 0 ? taskFromFlat(flat as string[]) : null;
  }

  /** The ids of the tasks `workerId` holds now (in progress under its name), in no order. */
  heldBy(workerId: string): Promise<string[]> {
    return this.#redis.smembers(this.q.worker(workerId));
  }

  /** How many tasks of `channel` wait to be claimed. */
  channelDepth(channel: string): Promise<number> {
    return this.#redis.zcard(this.q.channel(channel));
  }

  /** Several tasks by id in one round trip, in the order asked; missing ones left out. */
  async getMany(ids: readonly string[]): Promise<Task[]> {
    if (ids.length === 0) return [];
    const pipeline = this.#redis.pipeline();
    for (const id of ids) pipeline.call("HGETALL", this.q.task(id));
    const replies = (await pipeline.exec()) ?? [];
    return replies.flatMap(([err, flat]) =>
      !err && Array.isArray(flat) && flat.length > 0 ? [taskFromFlat(flat as string[])] : [],
    );
  }

  /**
   * One maintenance pass in one round trip: due delayed tasks become claimable, overdue
   * pending tasks expire, expired leases are reaped, finished tasks past retention leave Redis.
   * With a leadership token, every script refuses to act unless it is still the current one.
   */
  async maintain(batch: number, archiveBefore: number, leaderToken = "") {
    const pipeline = this.#redis.pipeline();
    const run = (script: CoordinationScript, key: string, args: (string | number)[]) =>
      this.scripts.queue(pipeline, script, key, args);
    run("promoteDelayed", this.q.delayed, [batch, leaderToken]);
    run("expireTasks", this.q.ttl, [batch, leaderToken]);
    run("reapLeases", this.q.leases, [
      batch,
      this.settings.backoffBaseMs,
      this.settings.backoffMaxMs,
      randomInt(2 ** 31),
      leaderToken,
    ]);
    run("archiveFinished", this.q.finished, [archiveBefore, batch, leaderToken]);
    const results = await this.scripts.exec(pipeline);
    for (const [err] of results) if (err) throw err;
    const value = (i: number) => results[i]?.[1];
    const [retried, deadLettered] = value(2) as [number, number];
    const done = {
      promoted: Number(value(0)),
      expired: Number(value(1)),
      retried,
      deadLettered,
      archived: Number(value(3)),
    };
    if (Object.values(done).some((n) => n < 0)) {
      throw new AppError("CONFLICT", "maintenance refused: this process no longer leads", { leaderToken });
    }
    return done;
  }

  /** claimTasks' ARGV after the worker id (completeAndClaim passes the same). */
  #claimArgs(input: Omit<ClaimInput, "workerId">): (string | number)[] {
    return [
      input.count,
      input.leaseMs ?? this.settings.leaseMs,
      input.capacity ?? 0,
      input.capabilities ? JSON.stringify(input.capabilities) : "",
      this.settings.claimScanLimit,
    ];
  }

  /** A transition's answer → its task, or the typed error its code stands for. */
  #task(reply: Reply, taskId: string, action: string): Task {
    const [code, ...rest] = reply;
    switch (code) {
      case "OK":
      case "RETRY":
      case "DEAD":
        return taskFromJson(rest[0] as string);
      case "NOT_FOUND":
        throw new AppError("NOT_FOUND", `Task ${taskId} not found`, { taskId });
      case "LEASE_LOST":
        throw new AppError(
          "LEASE_LOST",
          `Cannot ${action} task ${taskId}: the caller does not hold its lease (status ${rest[0]}${rest[1] ? `, held by ${rest[1]}` : ""})`,
          { taskId, status: rest[0], holder: rest[1] || null },
        );
      case "CONFLICT":
        throw new AppError(
          "CONFLICT",
          `Cannot ${action} task ${taskId} while it is ${rest[0]}${rest[1] ? ` (asked for ${rest[1]})` : ""}`,
          { taskId, status: rest[0], ...(rest[1] ? { requested: rest[1] } : {}) },
        );
      default:
        throw new Error(`unexpected reply from the ${action} script: ${String(code)}`);
    }
  }
}

/** A claim's answer → the claimed tasks (none when the worker is at capacity). */
function claimedTasks(reply: Reply): Task[] {
  if (reply[0] === "AT_CAPACITY") return [];
  return (reply.slice(1) as string[]).map(taskFromJson);
}

function holderArgs(holder: Holder): [string, string] {
  return [holder.workerId ?? "", holder.token === undefined ? "" : String(holder.token)];
}
