import type { Redis } from "ioredis";
import { AppError } from "../../core/errors.js";
import type { CoordinationKeys } from "../../storage/coordination-keys.js";
import type { CoordinationScripts } from "../../storage/scripts.js";
import {
  bridgeInstanceId,
  instanceOf,
  isBridgeInstanceId,
  isSessionInstance,
  SESSION_TIMEOUT_MS,
} from "./identity.js";

/**
 * Instances: the agents, workers and Claude Code sessions that register with the cluster.
 * An instance is live while it heartbeats; the leader declares one failed when its last
 * heartbeat is older than the timeout, which hands its tasks back to the queue at once.
 * A Claude Code session is one instance under every name it is given (identity.ts): register,
 * heartbeat and unregister go to `cc-<session id>` when called with the original hook bridge's
 * name of the session.
 */

export interface Instance {
  id: string;
  roles: string[];
  capabilities: string[];
  maxTasks: number;
  metadata: Record<string, unknown>;
  sessionId?: string;
  status: "active" | "failed" | "unregistered";
  autoAssign: boolean;
  registeredAt: string;
  lastSeen: string;
  statusText?: string;
  load?: Record<string, unknown>;
  /** Tasks it holds now. */
  activeTasks: number;
  /** Ids of the tasks it holds now, sorted: all of them up to HELD_TASK_IDS_SHOWN, else that many of them. */
  heldTaskIds: string[];
}

/**
 * Most held task ids listed per instance. An instance registered with maxTasks 0 (no limit)
 * may hold many; the list stays small, `activeTasks` counts them all.
 */
const HELD_TASK_IDS_SHOWN = 100;

interface RegisterInput {
  id: string;
  roles: string[];
  capabilities?: string[];
  maxTasks?: number;
  metadata?: Record<string, unknown>;
  sessionId?: string;
  autoAssign?: boolean;
  /**
   * Its own heartbeat timeout, when longer than the cluster's. A Claude Code session's instance
   * gets SESSION_TIMEOUT_MS without it (sessions idle for minutes).
   */
  heartbeatTimeoutMs?: number;
}

/** How long the bridge's name of a session keeps pointing at it after its last registration. */
const ALIAS_TTL_S = 7 * 24 * 3600;

const json = <T>(text: string | undefined, fallback: T): T => {
  try {
    return text === undefined ? fallback : (JSON.parse(text) as T);
  } catch {
    return fallback;
  }
};

function instanceFromHash(h: Record<string, string>, activeTasks: number, held: string[]): Instance {
  const instance: Instance = {
    id: h.id as string,
    roles: json(h.roles, []),
    capabilities: json(h.capabilities, []),
    maxTasks: Number(h.maxTasks ?? 0),
    metadata: json(h.metadata, {}),
    status: (h.status ?? "active") as Instance["status"],
    autoAssign: h.autoAssign === "1",
    registeredAt: new Date(Number(h.registeredAt)).toISOString(),
    lastSeen: new Date(Number(h.lastSeen)).toISOString(),
    activeTasks,
    heldTaskIds: held.sort(),
  };
  if (h.sessionId) instance.sessionId = h.sessionId;
  if (h.statusText) instance.statusText = h.statusText;
  if (h.load) instance.load = json(h.load, {});
  return instance;
}

export class InstanceRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly q: CoordinationKeys,
    private readonly scripts: CoordinationScripts,
    /** An instance whose last heartbeat is older than this is failed. */
    readonly heartbeatTimeoutMs: number,
  ) {}

  /** Registers (again) the instance `input.id` means; resolves with that instance's id. */
  async register(
    input: RegisterInput,
  ): Promise<{ instanceId: string; registeredAt: string; reregistered: boolean }> {
    const id = instanceOf(input.id, input.sessionId);
    const session = isSessionInstance(id, input.sessionId);
    const timeoutMs = input.heartbeatTimeoutMs ?? (session ? SESSION_TIMEOUT_MS : undefined);
    const [at, again] = (await this.scripts.run("registerInstance", this.q.instance(id), [
      id,
      JSON.stringify(input.roles),
      JSON.stringify(input.capabilities ?? []),
      input.maxTasks ?? 0,
      JSON.stringify(input.metadata ?? {}),
      input.sessionId ?? "",
      input.autoAssign ? "1" : "0",
      timeoutMs ?? "",
    ])) as [number, number];
    if (session) {
      // so that the bridge's name finds the session without its id (a bare heartbeat)
      const alias = bridgeInstanceId(input.sessionId as string);
      await this.redis.set(this.q.instanceAlias(alias), id, "EX", ALIAS_TTL_S);
    }
    return { instanceId: id, registeredAt: new Date(at).toISOString(), reregistered: again === 1 };
  }

  /**
   * The instance `id` names: with `sessionId`, the session's own for the bridge's name of it;
   * without, a bridge name's session from its alias record; else `id` (no Redis call).
   */
  async #resolve(id: string, sessionId?: string): Promise<string> {
    if (sessionId !== undefined || !isBridgeInstanceId(id)) return instanceOf(id, sessionId);
    return (await this.redis.get(this.q.instanceAlias(id))) ?? id;
  }

  /** False when the instance is unknown, failed or unregistered: it must register again. */
  async heartbeat(name: string, statusText?: string, load?: Record<string, unknown>): Promise<boolean> {
    const id = await this.#resolve(name);
    const alive = await this.scripts.run("heartbeatInstance", this.q.instance(id), [
      id,
      statusText ?? "",
      load ? JSON.stringify(load) : "",
    ]);
    return alive === 1;
  }

  /** Unregisters the instance `name` (with `sessionId`) means; resolves with how many tasks it released. */
  async unregister(name: string, sessionId?: string): Promise<number> {
    const id = await this.#resolve(name, sessionId);
    const [code, released] = (await this.scripts.run("unregisterInstance", this.q.instance(id), [id])) as [
      string,
      number?,
    ];
    if (code === "NOT_FOUND")
      throw new AppError("NOT_FOUND", `Instance ${id} is not registered`, { instanceId: id });
    return released ?? 0;
  }

  async get(id: string): Promise<Instance | null> {
    const [h, count, held] = await Promise.all([
      this.redis.hgetall(this.q.instance(id)),
      this.redis.scard(this.q.worker(id)),
      this.redis.srandmember(this.q.worker(id), HELD_TASK_IDS_SHOWN),
    ]);
    return h.id ? instanceFromHash(h, count, held) : null;
  }

  /** Every instance with a record (live, failed or unregistered within the last hour), newest first. */
  async list(): Promise<Instance[]> {
    const ids = await this.redis.zrange(this.q.instancesAll, 0, -1, "REV");
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    // SRANDMEMBER with a count: the whole set when it is smaller, else that many distinct ids
    for (const id of ids)
      pipeline
        .hgetall(this.q.instance(id))
        .scard(this.q.worker(id))
        .srandmember(this.q.worker(id), HELD_TASK_IDS_SHOWN);
    const replies = (await pipeline.exec()) ?? [];
    const out: Instance[] = [];
    const gone: string[] = [];
    ids.forEach((id, i) => {
      const [hash, count, held] = replies.slice(3 * i, 3 * i + 3).map((reply) => reply?.[1]);
      const h = hash as Record<string, string> | undefined;
      if (h?.id) out.push(instanceFromHash(h, Number(count ?? 0), (held as string[] | undefined) ?? []));
      else gone.push(id);
    });
    if (gone.length > 0) await this.redis.zrem(this.q.instancesAll, ...gone); // their records expired
    return out;
  }

  /** Ids of active instances whose last heartbeat is older than the cutoff. */
  stale(cutoffMs: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.q.instances, "-inf", `(${cutoffMs}`);
  }

  /** Live instances: heartbeat within the timeout. */
  liveCount(now = Date.now()): Promise<number> {
    return this.redis.zcount(this.q.instances, this.liveSince(now), "+inf");
  }

  /** The oldest heartbeat (ms) that still counts as live: a score range over `q.instances`. */
  liveSince(now = Date.now()): number {
    return now - this.heartbeatTimeoutMs;
  }

  /**
   * Declares an instance failed if its heartbeat is still older than the cutoff, handing its
   * tasks back. Refused (null) when `leaderToken` is not the current leadership.
   */
  async fail(
    id: string,
    cutoffMs: number,
    leaderToken: string,
  ): Promise<{ failed: boolean; released: number; deadLettered: number } | null> {
    const [code, released, dead] = (await this.scripts.run("failInstance", this.q.instance(id), [
      id,
      cutoffMs,
      leaderToken,
    ])) as [string, number?, number?];
    if (code === "STALE_EPOCH") return null;
    return { failed: code === "FAILED", released: released ?? 0, deadLettered: dead ?? 0 };
  }
}
