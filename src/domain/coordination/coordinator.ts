import type { Redis } from "ioredis";
import type { EmitFn } from "../../core/context.js";
import type { Logger } from "../../core/logger.js";
import type { CallStats } from "../../core/metrics.js";
import type { CoordinationKeys } from "../../storage/coordination-keys.js";
import type { CoordinationScripts } from "../../storage/scripts.js";
import { maintainQueue } from "../tasks/maintenance.js";
import type { TaskQueue } from "../tasks/queue.js";
import type { InstanceRegistry } from "./instances.js";
import type { Leadership, LeadershipState } from "./leadership.js";
import type { ClusterView, Membership } from "./membership.js";

/**
 * The per-process loops that make many server processes one cluster. Every tick a process
 * beats its membership; every gossip interval it probes its peers (in the background: a hung
 * peer's probe must not hold up the loops); the leader — unless partitioned — fails instances
 * that stopped heartbeating (their tasks go back at once), maintains the queue and pushes work
 * to auto-assign instances, all with its epoch-checked token. Every process publishes its call
 * statistics for cluster-wide metrics. Leadership is taken and renewed by a loop of its own,
 * every third of the term: leader duties that take long (a large reaping batch) must not delay
 * the renewal past the term, and the term is kept short so that a dead leader is replaced soon.
 */

interface CoordinatorSettings {
  tickMs: number;
  gossipMs: number;
  metricsMs: number;
  retentionMs: number;
  leaseMs: number;
}

interface CoordinatorDeps {
  redis: Redis;
  q: CoordinationKeys;
  scripts: CoordinationScripts;
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

/** Runs `step` at once and then `everyMs` after each run ends, until stopped; a failed run is logged. */
class Repeat {
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<unknown> | null = null;

  constructor(
    private readonly step: () => Promise<void>,
    private readonly everyMs: number,
    private readonly failed: (err: unknown) => void,
  ) {}

  start(): void {
    const loop = () => {
      this.#running = this.step()
        .catch(this.failed)
        .finally(() => {
          if (this.#timer) this.#timer = setTimeout(loop, this.everyMs);
        });
    };
    this.#timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running;
  }
}

export class Coordinator {
  #view: ClusterView = { members: 1, healthy: 1, partitioned: false, peers: [] };
  /** No leadership before the first view: we might be partitioned. */
  #viewKnown = false;
  #lastGossip = 0;
  #gossiping: Promise<void> | null = null;
  #lastMetrics = 0;
  /** Whether the last leadership call left us leading, to log the changes. */
  #led = false;
  readonly #ticks: Repeat;
  readonly #campaign: Repeat;

  constructor(
    private readonly deps: CoordinatorDeps,
    private readonly settings: CoordinatorSettings,
  ) {
    this.#ticks = new Repeat(
      () => this.tick(),
      settings.tickMs,
      (err) => deps.log.warn({ err }, "coordination tick failed; retrying"),
    );
    this.#campaign = new Repeat(
      () => this.campaign(),
      deps.leadership.renewMs,
      (err) => deps.log.warn({ err }, "leadership renewal failed; retrying"),
    );
  }

  get view(): ClusterView {
    return this.#view;
  }

  get leadership(): LeadershipState {
    return this.deps.leadership.state;
  }

  start(): void {
    this.#ticks.start();
    this.#campaign.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.#ticks.stop(), this.#campaign.stop()]);
    await this.#gossiping;
    await this.deps.leadership.resign(this.deps.redis).catch(() => undefined);
    await this.deps.membership.leave().catch(() => undefined);
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
      await this.deps.membership.publishStats(this.deps.stats.export(), this.settings.metricsMs * 3);
    }
    const state = this.deps.leadership.state;
    if (state.leading && !this.#view.partitioned) await this.#leaderDuties(state.token);
  }

  /** Takes or renews leadership, unless partitioned (then gives it up). */
  async campaign(): Promise<void> {
    const { leadership, redis, log } = this.deps;
    if (!this.#viewKnown) return;
    if (!this.#view.partitioned) {
      const state = await leadership.tick();
      if (state.leading && !this.#led) log.info({ epoch: state.epoch }, "this server leads the cluster");
      else if (!state.leading && this.#led)
        log.warn({ epoch: state.epoch, leaderId: state.leaderId }, "this server no longer leads the cluster");
      this.#led = state.leading;
    }
    // Partitioned, or found so by the background probes while we renewed: do not lead.
    if (this.#view.partitioned) {
      this.#led = false;
      await leadership.resign(redis);
    }
  }

  async #gossip(): Promise<void> {
    const previous = this.#view.partitioned;
    this.#view = await this.deps.membership.observe();
    this.#viewKnown = true;
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
    // Silence counts only while a leader is there to hear it: after a restart, or an outage of
    // Redis or of every server, instances that could not reach one get a whole timeout to
    // heartbeat again before they are failed (their tasks would go to others)
    if (this.deps.leadership.ledForMs() >= instances.heartbeatTimeoutMs) {
      for (const id of await instances.stale(cutoff)) {
        const outcome = await instances.fail(id, cutoff, token);
        if (outcome === null) return; // leadership moved on: stop
        if (outcome.failed)
          log.warn({ instanceId: id, ...outcome }, "instance failed: its tasks went back to the queue");
      }
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
