import type { Redis } from "ioredis";
import type { EmitFn } from "../../core/context.js";
import type { Logger } from "../../core/logger.js";
import type { CallStats } from "../../core/metrics.js";
import type { QueueKeys } from "../../storage/keys.js";
import type { QueueScripts } from "../../storage/scripts.js";
import type { InstanceRegistry } from "../instances/registry.js";
import { maintainQueue } from "../tasks/maintenance.js";
import type { TaskQueue } from "../tasks/queue.js";
import type { Leadership, LeadershipState } from "./leadership.js";
import type { ClusterView, Membership } from "./membership.js";

/**
 * The per-process loop that makes many server processes one cluster. Every tick it beats its
 * membership and takes or renews leadership; every gossip interval it probes its peers (in the
 * background: a hung peer's probe must not hold up the leader's renewal past its term); the
 * leader — unless partitioned — fails instances that stopped heartbeating (their tasks go back
 * at once), maintains the queue and pushes work to auto-assign instances, all with its
 * epoch-checked token. Every process publishes its call statistics for cluster-wide metrics.
 */

export interface CoordinatorSettings {
  tickMs: number;
  gossipMs: number;
  metricsMs: number;
  retentionMs: number;
  leaseMs: number;
}

export interface CoordinatorDeps {
  redis: Redis;
  q: QueueKeys;
  scripts: QueueScripts;
  instances: InstanceRegistry;
  leadership: Leadership;
  membership: Membership;
  tasks: TaskQueue;
  stats: CallStats;
  emit: EmitFn;
  log: Logger;
  details: () => Record<string, string | number>;
}

const AUTO_ASSIGN_BATCH = 200;

export class Coordinator {
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<unknown> | null = null;
  #view: ClusterView = { members: 1, healthy: 1, partitioned: false, peers: [] };
  #lastGossip = 0;
  #gossiping: Promise<void> | null = null;
  #lastMetrics = 0;

  constructor(
    private readonly deps: CoordinatorDeps,
    private readonly settings: CoordinatorSettings,
  ) {}

  get view(): ClusterView {
    return this.#view;
  }

  get leadership(): LeadershipState {
    return this.deps.leadership.state;
  }

  start(): void {
    const loop = () => {
      this.#running = this.tick()
        .catch((err) => this.deps.log.warn({ err }, "coordination tick failed; retrying"))
        .finally(() => {
          if (this.#timer) this.#timer = setTimeout(loop, this.settings.tickMs);
        });
    };
    this.#timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running;
    await this.#gossiping;
    await this.deps.leadership.resign(this.deps.redis).catch(() => undefined);
    await this.deps.membership.leave().catch(() => undefined);
    await this.deps.redis.del(this.deps.q.serverMetrics(this.deps.membership.serverId)).catch(() => 0);
  }

  async tick(): Promise<void> {
    const now = Date.now();
    if (!this.#gossiping && now - this.#lastGossip >= this.settings.gossipMs) {
      const first = this.#lastGossip === 0;
      this.#lastGossip = now;
      const gossip = this.#gossip()
        .catch((err) => this.deps.log.warn({ err }, "gossip failed; retrying"))
        .finally(() => {
          this.#gossiping = null;
        });
      this.#gossiping = gossip;
      // The first view is awaited (no leadership before we know whether we are partitioned);
      // later probes run beside the ticks, which use the latest view.
      if (first) await gossip;
    }
    await this.deps.membership.beat(this.#view, this.deps.details());
    if (now - this.#lastMetrics >= this.settings.metricsMs) {
      this.#lastMetrics = now;
      await this.deps.redis.set(
        this.deps.q.serverMetrics(this.deps.membership.serverId),
        JSON.stringify(this.deps.stats.export()),
        "PX",
        this.settings.metricsMs * 3,
      );
    }
    if (this.#view.partitioned) {
      await this.deps.leadership.resign(this.deps.redis);
      return;
    }
    const before = this.deps.leadership.state.leading;
    const state = await this.deps.leadership.tick();
    if (this.#view.partitioned) {
      // the background probes found us partitioned while we renewed: do not act as leader
      await this.deps.leadership.resign(this.deps.redis);
      return;
    }
    if (state.leading && !before) this.deps.log.info({ epoch: state.epoch }, "this server leads the cluster");
    if (state.leading) await this.#leaderDuties(state.token);
  }

  async #gossip(): Promise<void> {
    const previous = this.#view.partitioned;
    this.#view = await this.deps.membership.observe();
    if (this.#view.partitioned !== previous) {
      if (this.#view.partitioned) await this.deps.leadership.resign(this.deps.redis); // at once, not at the next tick
      const event = this.#view.partitioned ? "cluster.partition.detected" : "cluster.partition.cleared";
      this.deps.log.warn({ members: this.#view.members, healthy: this.#view.healthy }, event);
      await this.deps.emit(event, {
        serverId: this.deps.membership.serverId,
        members: this.#view.members,
        healthy: this.#view.healthy,
      });
    }
  }

  async #leaderDuties(token: string): Promise<void> {
    const { instances, tasks, log } = this.deps;
    const cutoff = Date.now() - instances.heartbeatTimeoutMs;
    for (const id of await instances.stale(cutoff)) {
      const outcome = await instances.fail(id, cutoff, token);
      if (outcome === null) return; // leadership moved on: stop
      if (outcome.failed)
        log.warn({ instanceId: id, ...outcome }, "instance failed: its tasks went back to the queue");
    }
    await maintainQueue(tasks, token, this.settings.retentionMs, log);
    const assigned = Number(
      await this.deps.scripts.run("autoAssign", this.deps.q.pending, [
        AUTO_ASSIGN_BATCH,
        this.settings.leaseMs,
        cutoff,
        token,
      ]),
    );
    if (assigned > 0) log.debug({ assigned }, "tasks pushed to auto-assign instances");
  }
}
