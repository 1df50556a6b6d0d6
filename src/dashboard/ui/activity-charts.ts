import { type Activity, firstActiveMinute, formatMs, type MethodFigures, ranked } from "../model/activity.js";
import type { InstanceView } from "../model/records.js";
import { barChart, type SeriesSpec, timeChart } from "./charts.js";
import { dataTable } from "./dom.js";

/**
 * The charts of `system.activity` (docs/api.md, "Recent activity"), each made once by its
 * view and given every poll's answer, and its per-method table. Colours are mid-tones legible
 * on both themes.
 */

export const COLORS = {
  blue: "#3b82f6",
  orange: "#f59e0b",
  red: "#ef4444",
  green: "#22c55e",
  purple: "#a855f7",
  grey: "#94a3b8",
  teal: "#14b8a6",
  pink: "#ec4899",
};
const CYCLE = Object.values(COLORS);
export const STATUS_COLORS: Record<string, string> = {
  pending: COLORS.blue,
  in_progress: COLORS.orange,
  completed: COLORS.green,
  failed: COLORS.red,
  cancelled: COLORS.grey,
};

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const lastOf = <T>(xs: readonly T[]) => xs[xs.length - 1];
/** Per-minute charts show at least this much of the hour. */
const MIN_MINUTES = 15;

/** The minutes from the first with activity on (see firstActiveMinute). */
function recentMinutes(a: Activity): Activity["perMinute"] {
  const from = firstActiveMinute(a.perMinute, MIN_MINUTES);
  const p = a.perMinute;
  return {
    t: p.t.slice(from),
    calls: p.calls.slice(from),
    errors: p.errors.slice(from),
    p50Ms: p.p50Ms.slice(from),
    p95Ms: p.p95Ms.slice(from),
    p99Ms: p.p99Ms.slice(from),
    completed: p.completed.slice(from),
    failed: p.failed.slice(from),
  };
}

export function callsChart() {
  const chart = timeChart({
    id: "calls",
    title: "Calls per minute",
    unit: "calls / min",
    series: [
      { label: "calls", color: COLORS.blue },
      { label: "errors", color: COLORS.red },
    ],
  });
  return {
    root: chart.root,
    update(a: Activity) {
      const { t, calls, errors } = recentMinutes(a);
      chart.update(t, [calls, errors], `last ${t.length} min: ${sum(calls)} calls, ${sum(errors)} errors`);
    },
  };
}

export function latencyChart() {
  const chart = timeChart({
    id: "latency",
    title: "Latency per minute",
    unit: "ms",
    format: (v) => (v >= 1000 ? `${+(v / 1000).toFixed(1)}s` : String(+v.toFixed(1))),
    series: [
      { label: "p50", color: COLORS.green },
      { label: "p95", color: COLORS.orange },
      { label: "p99", color: COLORS.red },
    ],
  });
  return {
    root: chart.root,
    update(a: Activity, method: string | undefined) {
      const { t, p50Ms, p95Ms, p99Ms } = recentMinutes(a);
      const figures = method ? a.window.methods.find((m) => m.method === method) : a.window;
      chart.update(
        t,
        [p50Ms, p95Ms, p99Ms],
        `${method ?? "all methods"}, last ${a.window.minutes} min: p50 ${formatMs(figures?.latency?.p50Ms)}, p99 ${formatMs(figures?.latency?.p99Ms)}`,
      );
    },
  };
}

export function queueChart() {
  const statuses: [string, string, boolean][] = [
    ["pending", "pending", true],
    ["in_progress", "in progress", true],
    ["failed", "failed", true],
    ["completed", "completed", false],
    ["cancelled", "cancelled", false],
  ];
  const chart = timeChart({
    id: "queue",
    title: "Tasks by status",
    unit: "tasks",
    series: statuses.map(([status, label, show]) => ({
      label,
      color: STATUS_COLORS[status] as string,
      show,
      steps: true,
    })),
  });
  return {
    root: chart.root,
    update(a: Activity) {
      const { t, byStatus } = a.queue;
      const values = statuses.map(([status]) => byStatus[status] ?? []);
      chart.update(
        t,
        values,
        `now: ${statuses.map(([status, label]) => `${lastOf(byStatus[status] ?? []) ?? 0} ${label}`).join(" · ")}`,
      );
    },
  };
}

export function finishedChart() {
  const chart = timeChart({
    id: "finished",
    title: "Tasks finished per minute",
    unit: "tasks / min",
    series: [
      { label: "completed", color: COLORS.green, bars: -1 },
      { label: "failed", color: COLORS.red, bars: 1 },
    ],
  });
  return {
    root: chart.root,
    update(a: Activity) {
      const { t, completed, failed } = recentMinutes(a);
      chart.update(
        t,
        [completed, failed],
        `last ${t.length} min: ${sum(completed)} completed, ${sum(failed)} failed`,
      );
    },
  };
}

export function workersChart() {
  const chart = timeChart({ id: "workers", title: "Tasks held per worker", unit: "tasks", series: [] });
  return {
    root: chart.root,
    update(a: Activity, instances: ReadonlyMap<string, InstanceView>) {
      const { t, workers } = a.queue;
      const series: SeriesSpec[] = workers.map((w, i) => ({
        label: w.workerId,
        color: CYCLE[i % CYCLE.length] as string,
        steps: true,
      }));
      const now = workers.map((w) => {
        const max = instances.get(w.workerId)?.maxTasks;
        return `${w.workerId} ${lastOf(w.held) ?? 0}${max ? ` / ${max}` : ""}`;
      });
      chart.update(
        t,
        workers.map((w) => w.held),
        workers.length ? `now: ${now.join(" · ")}` : "no worker has held a task in this span",
        series,
      );
    },
  };
}

export function errorsByCodeChart() {
  const chart = barChart({
    id: "errors-by-code",
    title: "Errors by code",
    unit: "errors",
    color: COLORS.red,
  });
  return {
    root: chart.root,
    update(a: Activity) {
      const { labels, values } = ranked(Object.entries(a.window.errorsByCode) as [string, number][]);
      chart.update(labels, values, `no errors in the last ${a.window.minutes} min`);
    },
  };
}

/** Calls, errors and latency of each method over the window, one row each. */
export function methodTable(
  label: string,
  methods: readonly MethodFigures[],
  caption?: string,
): HTMLTableElement {
  return dataTable(
    { "aria-label": label },
    ["Method", "Calls", "Errors", "p50", "p95", "p99", "Max"],
    methods.map((m) => ({
      attrs: { "data-method": m.method },
      cells: [
        m.method,
        String(m.calls),
        String(m.errors),
        formatMs(m.latency?.p50Ms),
        formatMs(m.latency?.p95Ms),
        formatMs(m.latency?.p99Ms),
        formatMs(m.latency?.maxMs),
      ],
    })),
    caption,
  );
}
