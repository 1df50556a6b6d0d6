import type { Redis } from "ioredis";
import type { ExportedStats } from "../../core/metrics.js";
import type { CoordinationKeys } from "../../storage/coordination-keys.js";

/**
 * The server processes of one cluster and each one's view of the others. Every process beats
 * in Redis (membership: a beat within `membershipTtlMs`) and probes its peers' `GET /health`
 * over HTTP (gossip). A process that sees fewer than half of the members healthy, itself
 * included, considers itself partitioned.
 */

interface PeerView {
  id: string;
  url: string;
  healthy: boolean;
  /** When this process last got a healthy answer from it (epoch ms), 0 = never. */
  lastHealthyAt: number;
}

export interface ClusterView {
  members: number;
  healthy: number;
  partitioned: boolean;
  peers: PeerView[];
}

const PROBE_TIMEOUT_MS = 1000;

export class Membership {
  readonly #lastHealthy = new Map<string, number>();

  constructor(
    private readonly redis: Redis,
    private readonly q: CoordinationKeys,
    readonly serverId: string,
    readonly url: string,
    private readonly membershipTtlMs: number,
  ) {}

  /** Records this process as a member, with its current view of the others. */
  async beat(view: ClusterView, details: Record<string, string | number>): Promise<void> {
    const key = this.q.server(this.serverId);
    await this.redis
      .multi()
      .zadd(this.q.servers, Date.now(), this.serverId)
      .hset(key, {
        id: this.serverId,
        url: this.url,
        partitioned: view.partitioned ? "1" : "0",
        view: JSON.stringify(view.peers),
        ...details,
      })
      .pexpire(key, this.membershipTtlMs)
      .exec();
  }

  /** Other members: a beat within the membership window. */
  async peers(): Promise<{ id: string; url: string }[]> {
    const ids = (
      await this.redis.zrangebyscore(this.q.servers, Date.now() - this.membershipTtlMs, "+inf")
    ).filter((id) => id !== this.serverId);
    if (ids.length === 0) return [];
    const urls = await Promise.all(ids.map((id) => this.redis.hget(this.q.server(id), "url")));
    return ids.flatMap((id, i) => (urls[i] ? [{ id, url: urls[i] as string }] : []));
  }

  /** Probes every peer once and says whether this process is partitioned. */
  async observe(): Promise<ClusterView> {
    const peers = await this.peers();
    const now = Date.now();
    const views = await Promise.all(
      peers.map(async ({ id, url }): Promise<PeerView> => {
        const healthy = await probe(url);
        if (healthy) this.#lastHealthy.set(id, now);
        return { id, url, healthy, lastHealthyAt: this.#lastHealthy.get(id) ?? 0 };
      }),
    );
    const members = peers.length + 1;
    const healthy = 1 + views.filter((v) => v.healthy).length;
    return { members, healthy, partitioned: healthy < members / 2, peers: views };
  }

  /** All members' own records (for system.get_state and the dashboard). */
  async describe(): Promise<Record<string, string>[]> {
    const ids = await this.redis.zrangebyscore(this.q.servers, Date.now() - this.membershipTtlMs, "+inf");
    const records = await Promise.all(ids.map((id) => this.redis.hgetall(this.q.server(id))));
    return records.filter((r) => r.id);
  }

  /** Publishes this process's call statistics for the others' cluster-wide metrics, for `ttlMs`. */
  async publishStats(stats: ExportedStats, ttlMs: number): Promise<void> {
    await this.redis.set(this.q.serverMetrics(this.serverId), JSON.stringify(stats), "PX", ttlMs);
  }

  /** The call statistics each of `serverIds` published last, in that order; null when it has none (left, expired). */
  async publishedStats(serverIds: readonly string[]): Promise<(ExportedStats | null)[]> {
    if (serverIds.length === 0) return [];
    const published = await this.redis.mget(serverIds.map((id) => this.q.serverMetrics(id)));
    return published.map((json) => (json ? (JSON.parse(json) as ExportedStats) : null));
  }

  /** Leaves the cluster: its record and its published statistics go. */
  async leave(): Promise<void> {
    await this.redis
      .multi()
      .zrem(this.q.servers, this.serverId)
      .del(this.q.server(this.serverId), this.q.serverMetrics(this.serverId))
      .exec();
  }
}

async function probe(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}
