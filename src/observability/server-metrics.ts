import { monitorEventLoopDelay } from "node:perf_hooks";
import type { Redis } from "ioredis";
import { TASK_STATUSES } from "../contract/tasks.js";
import type { CallStats } from "../core/metrics.js";
import type { InstanceRegistry } from "../domain/coordination/instances.js";
import type { ClusterView } from "../domain/coordination/membership.js";
import type { Keys } from "../storage/keys.js";
import type { Collector, HistogramSample, MetricFamily, Sample } from "./prometheus.js";
import { MetricsRegistry } from "./prometheus.js";

/**
 * The server's own collectors for `GET /metrics`. Call figures are this process's (sum them
 * over every server's endpoint); queue, instance and stream gauges are read from the shared
 * Redis, so every server reports the same cluster-wide values (do not sum those).
 */

/** Latency histogram bounds in seconds (`le`). */
export const LATENCY_BOUNDS_S = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;
const LATENCY_BOUNDS_MS = LATENCY_BOUNDS_S.map((s) => s * 1000);

/** Calls, errors by code, rate-limited calls and latency per method, from the dispatcher's CallStats. */
export function callCollector(stats: CallStats): Collector {
  return () => {
    const calls: Sample[] = [];
    const errors: Sample[] = [];
    const limited: Sample[] = [];
    const latency: HistogramSample[] = [];
    for (const [method, { latency: h, errors: byCode }] of stats.methods()) {
      const labels = { method };
      calls.push({ labels, value: h.count });
      for (const [code, n] of byCode) errors.push({ labels: { method, code }, value: n });
      limited.push({ labels, value: byCode.get("RATE_LIMITED") ?? 0 });
      const counts = h.countsAtMost(LATENCY_BOUNDS_MS);
      latency.push({
        labels,
        buckets: LATENCY_BOUNDS_S.map((le, i) => [le, counts[i] ?? 0] as const),
        sum: h.sumMs / 1000,
        count: h.count,
      });
    }
    return [
      {
        name: "claudebench_calls_total",
        help: "Calls dispatched by this server process, per method (successful or not).",
        type: "counter",
        samples: calls,
      },
      {
        name: "claudebench_call_errors_total",
        help: "Calls by this server process that ended with an error, per method and error code.",
        type: "counter",
        samples: errors,
      },
      {
        name: "claudebench_rate_limited_total",
        help: 'Calls refused by the rate limit, per method: the calls that ended with code RATE_LIMITED (the same figure as claudebench_call_errors_total{code="RATE_LIMITED"}).',
        type: "counter",
        samples: limited,
      },
      {
        name: "claudebench_call_duration_seconds",
        help: "Call latency through the dispatch pipeline, per method. A call within 4.5 % below a bound may be counted in the next bucket up.",
        type: "histogram",
        samples: latency,
      },
    ];
  };
}

const gauge = (name: string, help: string, samples: Sample[]): MetricFamily => ({
  name,
  help,
  type: "gauge",
  samples,
});

/** A scrape waits this long for Redis, then reports `claudebench_redis_up 0` without the Redis gauges. */
const REDIS_TIMEOUT_MS = 2000;

/** What the Redis-side gauges read: the server's own connection and key names, and the cluster. */
interface RedisSources {
  redis: Redis;
  keys: Keys;
  /** The timed PING system.health reports too (RedisLink.ping). */
  storeProbe: { ping(): Promise<number> };
  instances: Pick<InstanceRegistry, "liveSince">;
  cluster: { view(): ClusterView };
}

/** What the whole registry reads. */
interface MetricsSources extends RedisSources {
  startedAt: number;
  version: string;
  stats: CallStats;
}

/**
 * Queue, instance and stream figures from Redis in one pipeline, after a timed PING (the
 * round trip alone, not the pipeline's work). Without Redis the rest of the scrape still answers.
 */
function redisCollector(services: RedisSources): Collector {
  const read = redisFamilies(services);
  const up = (value: number) =>
    gauge("claudebench_redis_up", "Whether Redis answered this scrape within 2 s (1) or not (0).", [
      { value },
    ]);
  return async () => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const families = await Promise.race([
        read(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("Redis did not answer")), REDIS_TIMEOUT_MS);
        }),
      ]);
      return [up(1), ...families];
    } catch {
      return [up(0)];
    } finally {
      clearTimeout(timer);
    }
  };
}

function redisFamilies(services: RedisSources): () => Promise<MetricFamily[]> {
  return async () => {
    const { redis, keys } = services;
    const q = keys.coordination;
    const pingSeconds = (await services.storeProbe.ping()) / 1000;
    const pipeline = redis.pipeline();
    pipeline.zcard(q.pending).zcard(q.delayed).zcard(q.leases).zcard(q.dead);
    for (const status of TASK_STATUSES) pipeline.zcard(q.status(status));
    pipeline.zcount(q.instances, services.instances.liveSince(), "+inf");
    pipeline.xlen(keys.events()).xlen(keys.audit());
    const values = ((await pipeline.exec()) ?? []).map(([err, value]) => {
      if (err) throw err;
      return Number(value);
    });
    let i = 0;
    const next = () => values[i++] ?? 0;
    const [pending, delayed, leases, dead] = [next(), next(), next(), next()];
    const byStatus = TASK_STATUSES.map((status) => ({ labels: { status }, value: next() }));
    const [alive, events, audit] = [next(), next(), next()];
    const view = services.cluster.view();
    return [
      gauge("claudebench_queue_pending", "Tasks claimable now (cluster-wide).", [{ value: pending }]),
      gauge(
        "claudebench_queue_delayed",
        "Pending tasks not yet due: delayed or backing off before a retry.",
        [{ value: delayed }],
      ),
      gauge("claudebench_queue_active_leases", "Tasks held by a worker under a lease.", [{ value: leases }]),
      gauge("claudebench_queue_dead_letters", "Tasks that ran out of attempts.", [{ value: dead }]),
      gauge("claudebench_tasks", "Tasks in Redis by status.", byStatus),
      gauge("claudebench_instances_alive", "Registered instances whose heartbeat is within the timeout.", [
        { value: alive },
      ]),
      gauge("claudebench_event_stream_length", "Entries in the capped event stream.", [{ value: events }]),
      gauge("claudebench_audit_stream_length", "Entries in the capped audit stream.", [{ value: audit }]),
      gauge("claudebench_cluster_servers", "Server processes in the cluster, as this process sees them.", [
        { labels: { state: "member" }, value: view.members },
        { labels: { state: "healthy" }, value: view.healthy },
      ]),
      gauge("claudebench_redis_ping_seconds", "Round trip of a PING to Redis, timed at this scrape.", [
        { value: pingSeconds },
      ]),
    ];
  };
}

/** Memory, uptime and event-loop delay of this process. */
function processCollector(startedAt: number, version: string): { collect: Collector; stop(): void } {
  // A libuv timer samples the loop's delay every 20 ms: negligible cost, no per-call work.
  const loop = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();
  const collect: Collector = () => {
    const { rss, heapUsed } = process.memoryUsage();
    // Delays since the previous scrape, then start afresh (as prom-client does).
    const lag = [
      { labels: { stat: "mean" }, value: nanosToSeconds(loop.mean) },
      { labels: { stat: "p99" }, value: nanosToSeconds(loop.percentile(99)) },
      { labels: { stat: "max" }, value: nanosToSeconds(loop.max) },
    ];
    loop.reset();
    return [
      gauge("claudebench_build_info", "This server's version (always 1).", [
        { labels: { version }, value: 1 },
      ]),
      gauge("claudebench_process_resident_memory_bytes", "Resident set size of this server process.", [
        { value: rss },
      ]),
      gauge("claudebench_process_heap_used_bytes", "V8 heap in use by this server process.", [
        { value: heapUsed },
      ]),
      gauge("claudebench_uptime_seconds", "Seconds since this server process started serving.", [
        { value: (Date.now() - startedAt) / 1000 },
      ]),
      gauge(
        "claudebench_event_loop_lag_seconds",
        "Event-loop delay of this process since the previous scrape (sampled every 20 ms).",
        lag,
      ),
    ];
  };
  return { collect, stop: () => loop.disable() };
}

/** With no sample yet the histogram answers NaN (mean) or a huge minimum: report 0. */
const nanosToSeconds = (ns: number) => (Number.isFinite(ns) && ns > 0 && ns < 1e12 ? ns / 1e9 : 0);

/**
 * The registry `GET /metrics` renders: calls, Redis-side gauges, process figures.
 * EXTENSION POINT: another module adds its gauge with `metrics.registry.register(collector)`
 * (e.g. `claudebench_circuit_state{method}` from the circuit breaker).
 */
export function createServerMetrics(
  services: MetricsSources,
  more: readonly Collector[] = [],
): { registry: MetricsRegistry; stop(): void } {
  const registry = new MetricsRegistry();
  const proc = processCollector(services.startedAt, services.version);
  registry.register(callCollector(services.stats));
  registry.register(redisCollector(services));
  registry.register(proc.collect);
  for (const collector of more) registry.register(collector);
  return { registry, stop: proc.stop };
}
