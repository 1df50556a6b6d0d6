import type { ErrorCode } from "./errors.js";
import { BUCKETS, bucketUpperMs, latencyBucket, percentileOfBuckets } from "./latency-buckets.js";
import { RecentCalls } from "./recent-calls.js";

/**
 * Latency histogram over the shared buckets (latency-buckets.ts). Recording is O(1) with no
 * allocation.
 */
export class LatencyHistogram {
  readonly counts = new Float64Array(BUCKETS);
  count = 0;
  sumMs = 0;
  maxMs = 0;

  record(ms: number): void {
    const index = latencyBucket(ms);
    this.counts[index] = (this.counts[index] ?? 0) + 1;
    this.count++;
    this.sumMs += ms;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  /** Sparse form for publishing: [bucket, count] pairs. */
  export(): ExportedHistogram {
    const buckets: [number, number][] = [];
    this.counts.forEach((n, i) => {
      if (n > 0) buckets.push([i, n]);
    });
    return { buckets, count: this.count, sumMs: this.sumMs, maxMs: this.maxMs };
  }

  /** Adds another histogram's counts (another server process's) to this one. */
  merge(other: ExportedHistogram): void {
    for (const [i, n] of other.buckets) this.counts[i] = (this.counts[i] ?? 0) + n;
    this.count += other.count;
    this.sumMs += other.sumMs;
    if (other.maxMs > this.maxMs) this.maxMs = other.maxMs;
  }

  /**
   * For each bound (ms, ascending), how many observations were at most that bound, counting
   * whole buckets only: a bucket straddling a bound is counted at the next bound up. The
   * counts never include an observation above its bound (one may be counted up to one bucket
   * width, 4.5 %, late) and are cumulative, as Prometheus' `le` buckets must be.
   */
  countsAtMost(boundsMs: readonly number[]): number[] {
    const out: number[] = [];
    let i = 0;
    let seen = 0;
    for (const bound of boundsMs) {
      while (i < BUCKETS && bucketUpperMs(i) <= bound) seen += this.counts[i++] ?? 0;
      out.push(seen);
    }
    return out;
  }

  /** The upper bound of the bucket holding the p-th percentile (p in 0..100), in ms. */
  percentile(p: number): number {
    return percentileOfBuckets(this.export().buckets, this.count, this.maxMs, p);
  }
}

interface ExportedHistogram {
  buckets: [number, number][];
  count: number;
  sumMs: number;
  maxMs: number;
}

/** One server process's statistics in a form other processes can merge. */
export type ExportedStats = Record<
  string,
  { latency: ExportedHistogram; errors: Partial<Record<ErrorCode, number>> }
>;

export interface MethodStats {
  calls: number;
  errors: number;
  errorsByCode: Partial<Record<ErrorCode, number>>;
  latency: { avgMs: number; p50Ms: number; p95Ms: number; p99Ms: number; maxMs: number };
}

/** One method's live figures: read them, never write them. */
interface MethodReading {
  readonly latency: Readonly<Pick<LatencyHistogram, "count" | "sumMs" | "countsAtMost">>;
  readonly errors: ReadonlyMap<ErrorCode, number>;
}

/**
 * Calls, errors by code and latency per method, as measured by the dispatch pipeline: since
 * the start, and minute by minute for the last hour (`recent`, for figures over a recent window).
 */
export class CallStats {
  readonly #methods = new Map<string, { latency: LatencyHistogram; errors: Map<ErrorCode, number> }>();
  readonly recent: RecentCalls;

  /** `clock` dates the recent minutes (tests control it). */
  constructor(clock: () => number = Date.now) {
    this.recent = new RecentCalls(clock);
  }

  record(method: string, ms: number, error?: ErrorCode): void {
    const entry = this.#entry(method);
    entry.latency.record(ms);
    if (error) entry.errors.set(error, (entry.errors.get(error) ?? 0) + 1);
    this.recent.record(method, ms, error);
  }

  #entry(method: string) {
    let entry = this.#methods.get(method);
    if (!entry) {
      entry = { latency: new LatencyHistogram(), errors: new Map<ErrorCode, number>() };
      this.#methods.set(method, entry);
    }
    return entry;
  }

  export(): ExportedStats {
    const out: ExportedStats = {};
    for (const [method, { latency, errors }] of this.#methods) {
      out[method] = { latency: latency.export(), errors: Object.fromEntries(errors) };
    }
    return out;
  }

  /** Adds another process's exported statistics. */
  merge(other: ExportedStats): void {
    for (const [method, { latency, errors }] of Object.entries(other)) {
      const entry = this.#entry(method);
      entry.latency.merge(latency);
      for (const [code, n] of Object.entries(errors)) {
        entry.errors.set(code as ErrorCode, (entry.errors.get(code as ErrorCode) ?? 0) + (n ?? 0));
      }
    }
  }

  /** This process's own figures per method, read in place (for the Prometheus endpoint). */
  *methods(): IterableIterator<[string, MethodReading]> {
    for (const [method, { latency, errors }] of this.#methods) yield [method, { latency, errors }];
  }

  snapshot(): Record<string, MethodStats> {
    const out: Record<string, MethodStats> = {};
    for (const [method, { latency, errors }] of this.#methods) {
      const round = (n: number) => Math.round(n * 1000) / 1000;
      let errorCount = 0;
      for (const n of errors.values()) errorCount += n;
      out[method] = {
        calls: latency.count,
        errors: errorCount,
        errorsByCode: Object.fromEntries(errors),
        latency: {
          avgMs: round(latency.sumMs / latency.count),
          p50Ms: round(latency.percentile(50)),
          p95Ms: round(latency.percentile(95)),
          p99Ms: round(latency.percentile(99)),
          maxMs: round(latency.maxMs),
        },
      };
    }
    return out;
  }
}
