import type { CallFigures } from "../../core/recent-calls.js";

/**
 * The answer of `system.activity` (docs/api.md, "Recent activity"), which the page polls for
 * its headline figures and charts, and what the views read from it. Its call figures are the
 * server's own type (core/recent-calls.ts: a type-only import, nothing of it is bundled).
 */

export interface MethodFigures extends CallFigures {
  method: string;
}

export interface Activity {
  now: number;
  window: CallFigures & { minutes: number; since: number; methods: MethodFigures[] };
  perMinute: {
    t: number[];
    calls: number[];
    errors: number[];
    p50Ms: (number | null)[];
    p95Ms: (number | null)[];
    p99Ms: (number | null)[];
    completed: number[];
    failed: number[];
  };
  queue: {
    intervalMs: number;
    t: number[];
    byStatus: Record<string, number[]>;
    workers: { workerId: string; held: number[] }[];
  };
}

/** The methods with the highest p99 over the window, slowest first. */
export function slowestMethods(activity: Activity, count: number): MethodFigures[] {
  return activity.window.methods
    .filter((m) => m.latency)
    .sort((a, b) => (b.latency?.p99Ms ?? 0) - (a.latency?.p99Ms ?? 0))
    .slice(0, count);
}

/**
 * Where the per-minute charts start: at the first minute with any call or finished task (a
 * server up for ten minutes has no hour to show), but never fewer than `atLeast` minutes back.
 */
export function firstActiveMinute(perMinute: Activity["perMinute"], atLeast: number): number {
  const { calls, completed, failed } = perMinute;
  const first = calls.findIndex((n, i) => n > 0 || (completed[i] ?? 0) > 0 || (failed[i] ?? 0) > 0);
  const latest = Math.max(0, calls.length - atLeast);
  return first === -1 ? latest : Math.min(first, latest);
}

/** Counts by key, largest first, as the bar charts show them. */
export function ranked(counts: Iterable<[string, number]>): { labels: string[]; values: number[] } {
  const sorted = [...counts].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return { labels: sorted.map(([k]) => k), values: sorted.map(([, n]) => n) };
}

/** A latency for a person: µs below 1 ms, ms below 10 s, else seconds. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 10_000) return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}
