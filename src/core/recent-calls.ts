import type { ErrorCode } from "./errors.js";
import { latencyBucket, percentileOfBuckets } from "./latency-buckets.js";

/**
 * This process's calls minute by minute, for the last hour: per method the calls, the errors
 * by code and the latency histogram (the same buckets as LatencyHistogram, ≈ 4.5 % wide, kept
 * sparse: only the buckets a minute used). Headline figures are read over the last few
 * minutes rather than since the start, so one slow call at start-up does not stay the p99 for
 * the whole life of the process.
 *
 * Memory is bounded: MINUTES slots, each with one entry per method called in that minute and
 * at most one map entry per latency bucket used (typically a few dozen). A call costs a clock
 * read and two map updates; a slot is recycled when its minute comes round again.
 */

export const MINUTES = 60;
const MINUTE_MS = 60_000;

interface MethodMinute {
  calls: number;
  errors: Map<ErrorCode, number>;
  /** Latency bucket → calls. */
  latency: Map<number, number>;
  maxMs: number;
}

interface Slot {
  minute: number;
  methods: Map<string, MethodMinute>;
  /** A past minute's figures, by method ("" for all), once read: they cannot change any more. */
  read?: Map<string, CallFigures>;
}

interface LatencyFigures {
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface CallFigures {
  calls: number;
  errors: number;
  errorsByCode: Partial<Record<ErrorCode, number>>;
  /** Null when there was no call. */
  latency: LatencyFigures | null;
}

interface MinuteFigures extends CallFigures {
  /** Start of the minute, epoch ms. */
  t: number;
}

/** Calls of several method-minutes merged. */
class Merged {
  calls = 0;
  maxMs = 0;
  readonly errors = new Map<ErrorCode, number>();
  readonly latency = new Map<number, number>();

  add(m: MethodMinute): void {
    this.calls += m.calls;
    if (m.maxMs > this.maxMs) this.maxMs = m.maxMs;
    for (const [code, n] of m.errors) this.errors.set(code, (this.errors.get(code) ?? 0) + n);
    for (const [bucket, n] of m.latency) this.latency.set(bucket, (this.latency.get(bucket) ?? 0) + n);
  }

  figures(): CallFigures {
    let errors = 0;
    for (const n of this.errors.values()) errors += n;
    const buckets = [...this.latency].sort((a, b) => a[0] - b[0]);
    const at = (p: number) => round(percentileOfBuckets(buckets, this.calls, this.maxMs, p));
    return {
      calls: this.calls,
      errors,
      errorsByCode: Object.fromEntries(this.errors),
      latency: this.calls ? { p50Ms: at(50), p95Ms: at(95), p99Ms: at(99), maxMs: round(this.maxMs) } : null,
    };
  }
}

const round = (n: number) => Math.round(n * 1000) / 1000;

export class RecentCalls {
  readonly #slots: (Slot | undefined)[] = new Array(MINUTES);

  constructor(readonly now: () => number = Date.now) {}

  record(method: string, ms: number, error?: ErrorCode): void {
    const minute = Math.floor(this.now() / MINUTE_MS);
    const index = minute % MINUTES;
    let slot = this.#slots[index];
    if (slot?.minute !== minute) {
      slot = { minute, methods: new Map() };
      this.#slots[index] = slot;
    }
    let m = slot.methods.get(method);
    if (!m) {
      m = { calls: 0, errors: new Map(), latency: new Map(), maxMs: 0 };
      slot.methods.set(method, m);
    }
    m.calls++;
    const bucket = latencyBucket(ms);
    m.latency.set(bucket, (m.latency.get(bucket) ?? 0) + 1);
    if (ms > m.maxMs) m.maxMs = ms;
    if (error) m.errors.set(error, (m.errors.get(error) ?? 0) + 1);
  }

  /** The slots of the last `count` minutes (the current one included), oldest first; a quiet minute has none. */
  *#lastMinutes(count: number): Generator<{ t: number; slot: Slot | undefined }> {
    const current = Math.floor(this.now() / MINUTE_MS);
    for (let minute = current - Math.min(count, MINUTES) + 1; minute <= current; minute++) {
      const slot = this.#slots[minute % MINUTES];
      yield { t: minute * MINUTE_MS, slot: slot?.minute === minute ? slot : undefined };
    }
  }

  /** One row per minute, oldest first, for one method or (without) every method merged. */
  perMinute(count: number, method?: string): MinuteFigures[] {
    const current = Math.floor(this.now() / MINUTE_MS) * MINUTE_MS;
    const rows: MinuteFigures[] = [];
    for (const { t, slot } of this.#lastMinutes(count)) {
      const known = slot?.read?.get(method ?? "");
      if (known) {
        rows.push({ t, ...known });
        continue;
      }
      const merged = new Merged();
      if (slot) {
        if (method === undefined) for (const m of slot.methods.values()) merged.add(m);
        else {
          const m = slot.methods.get(method);
          if (m) merged.add(m);
        }
      }
      const figures = merged.figures();
      if (slot && t < current) {
        slot.read ??= new Map();
        slot.read.set(method ?? "", figures);
      }
      rows.push({ t, ...figures });
    }
    return rows;
  }

  /**
   * The last `count` minutes (the current, partial one included) merged: over all methods and
   * per method, busiest first. `since` is the start of the oldest minute counted.
   */
  window(count: number): CallFigures & { since: number; methods: (CallFigures & { method: string })[] } {
    const all = new Merged();
    const byMethod = new Map<string, Merged>();
    let since = 0;
    for (const { t, slot } of this.#lastMinutes(count)) {
      since ||= t;
      for (const [method, m] of slot?.methods ?? []) {
        all.add(m);
        let merged = byMethod.get(method);
        if (!merged) {
          merged = new Merged();
          byMethod.set(method, merged);
        }
        merged.add(m);
      }
    }
    return {
      since,
      ...all.figures(),
      methods: [...byMethod]
        .map(([method, merged]) => ({ method, ...merged.figures() }))
        .sort((a, b) => b.calls - a.calls || a.method.localeCompare(b.method)),
    };
  }
}
