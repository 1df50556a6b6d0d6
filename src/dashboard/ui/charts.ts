import uPlot from "uplot";
import { h, setText } from "./dom.js";

/**
 * Charts drawn by uPlot (MIT, ~50 KB minified, bundled into app.js by esbuild: the page loads
 * nothing from elsewhere): time series with a time axis and a unit on the value axis, and
 * horizontal bar charts of counts by name. A chart is made when its figure first has a width
 * (a hidden view's has none), follows the figure's width, and is only given new data after.
 * Colours of axes and grid are read from the stylesheet at each draw, so the theme switch
 * (which sends `themechange`) only needs a redraw.
 */

export interface SeriesSpec {
  label: string;
  color: string;
  /** Shown at first (a click on the legend toggles it). */
  show?: boolean;
  /** Drawn as bars: centred on the time (0), or left (-1) / right (1) of it, for two side by side. */
  bars?: -1 | 0 | 1;
  /** A gauge read at intervals: each reading holds until the next (a step), not a ramp between them. */
  steps?: boolean;
}

/** The path builder of a series: lines by default. */
function paths(s: SeriesSpec): Partial<uPlot.Series> {
  if (s.bars !== undefined)
    return {
      width: 0,
      fill: s.color,
      points: { show: false },
      paths: uPlot.paths.bars?.({ size: [s.bars ? 0.35 : 0.6, 12], align: s.bars }),
    };
  return { width: 2, ...(s.steps ? { paths: uPlot.paths.stepped?.({ align: 1 }) } : {}) };
}

export interface Chart {
  root: HTMLElement;
}

const HEIGHT = 190;
const cssVar = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
const axisStroke = () => cssVar("--muted");
const gridStroke = () => cssVar("--grid");
const FONT = "12px system-ui, sans-serif";

const charts = new Set<uPlot>();
document.addEventListener("themechange", () => {
  for (const u of charts) u.redraw(false);
});

const timeOf = (ms: number) => new Date(ms).toLocaleTimeString();

/** Whole numbers below 10 000, then k: the value axis of counts. */
const count = (v: number) => (Math.abs(v) >= 10_000 ? `${Math.round(v / 1000)}k` : String(+v.toFixed(2)));

/** A figure with its title (and unit) that holds the plot, and a one-line reading under it. */
function figure(id: string, title: string, unit: string) {
  const plot = h("div", { class: "plot" });
  const reading = h("p", { class: "reading muted", "aria-live": "off" });
  const root = h(
    "figure",
    { class: "chart", "data-chart": id, role: "group", "aria-label": `${title} (${unit})` },
    h("figcaption", {}, title, " ", h("span", { class: "unit" }, `(${unit})`)),
    plot,
    reading,
  );
  return { root, plot, reading };
}

/**
 * Makes the uPlot instance once `plot` has a width and keeps it that wide; `make` builds the
 * options for a width. Returns a setter of the latest data (kept until the chart exists).
 */
function lazyPlot(plot: HTMLElement, make: (width: number) => uPlot.Options) {
  let u: uPlot | undefined;
  let latest: uPlot.AlignedData | undefined;
  const ensure = () => {
    const width = plot.clientWidth;
    if (width === 0 || !latest) return;
    if (!u) {
      u = new uPlot(make(width), latest, plot);
      charts.add(u);
    } else if (Math.abs(u.width - width) > 1) u.setSize({ width, height: u.height });
  };
  new ResizeObserver(ensure).observe(plot);
  return (data: uPlot.AlignedData, height?: number, remake = false) => {
    latest = data;
    if (remake && u) {
      u.destroy();
      charts.delete(u);
      u = undefined;
    }
    if (u && height !== undefined && Math.abs(u.height - height) > 1) u.setSize({ width: u.width, height });
    if (u) u.setData(data);
    else ensure();
  };
}

/**
 * A time series chart: `t` in epoch ms on the x axis (local time), one line (or bars) per
 * series on a value axis starting at 0, labelled with `unit`.
 */
export function timeChart(spec: {
  id: string;
  title: string;
  unit: string;
  series: SeriesSpec[];
  format?: (v: number) => string;
}): Chart & {
  /** New data; with `series` (for series that come and go, such as workers) the chart is made anew when they changed. */
  update(t: number[], values: (number | null)[][], reading: string, series?: SeriesSpec[]): void;
} {
  const { root, plot, reading } = figure(spec.id, spec.title, spec.unit);
  const format = spec.format ?? count;
  let shown = spec.series;
  const set = lazyPlot(plot, (width) => ({
    width,
    height: HEIGHT,
    ms: 1,
    cursor: { drag: { x: false, y: false } },
    legend: { live: true },
    scales: {
      x: { time: true },
      y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] },
    },
    axes: [
      { stroke: axisStroke, grid: { stroke: gridStroke, width: 1 }, ticks: { show: false }, font: FONT },
      {
        stroke: axisStroke,
        grid: { stroke: gridStroke, width: 1 },
        ticks: { show: false },
        font: FONT,
        label: spec.unit,
        labelFont: FONT,
        labelSize: 18,
        size: 44,
        values: (_u, splits) => splits.map((v) => format(v)),
      },
    ],
    series: [
      // Without the pointer over the plot the legend shows the names only (the reading below has the figures).
      { label: "time", value: (_u: uPlot, v: number | null) => (v === null ? "" : timeOf(v)) },
      ...shown.map((s) => ({
        label: s.label,
        stroke: s.color,
        show: s.show ?? true,
        spanGaps: false,
        value: (_u: uPlot, v: number | null) => (v === null ? "" : format(v)),
        ...paths(s),
      })),
    ],
  }));
  return {
    root,
    update(t, values, text, series) {
      const changed =
        series !== undefined &&
        series.map((s) => s.label).join("\n") !== shown.map((s) => s.label).join("\n");
      if (series) shown = series;
      set([t, ...values], undefined, changed);
      root.dataset.points = String(t.length);
      setText(reading, text);
    },
  };
}

/** Horizontal bars of counts by name, largest first; as tall as its bars need. */
export function barChart(spec: { id: string; title: string; unit: string; color: string }): Chart & {
  update(labels: string[], values: number[], empty: string): void;
} {
  const { root, plot, reading } = figure(spec.id, spec.title, spec.unit);
  let labels: string[] = [];
  const bars = uPlot.paths.bars?.({ size: [0.7, 26], align: 0 });
  /** The value axis and its label take ~60 px; each bar a row of 32. */
  const heightFor = (n: number) => 72 + Math.max(1, n) * 32;
  const set = lazyPlot(plot, (width) => ({
    width,
    height: heightFor(labels.length),
    cursor: { show: false },
    legend: { show: false },
    scales: {
      x: { time: false, ori: 1, dir: -1, range: (_u, min, max) => [min - 0.5, max + 0.5] },
      y: { ori: 0, dir: 1, range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
    },
    axes: [
      {
        side: 3,
        stroke: axisStroke,
        grid: { show: false },
        ticks: { show: false },
        font: FONT,
        // the names, on their bars only, as wide as the longest needs (within reason)
        splits: () => labels.map((_, i) => i),
        values: (_u, splits) => splits.map((i) => labels[i] ?? ""),
        size: (_u, values) => Math.min(180, 16 + Math.max(0, ...(values ?? []).map((v) => v.length)) * 7),
      },
      {
        side: 2,
        stroke: axisStroke,
        grid: { stroke: gridStroke, width: 1 },
        ticks: { show: false },
        font: FONT,
        size: 28,
        label: spec.unit,
        labelFont: FONT,
        labelSize: 18,
        values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? count(v) : "")),
      },
    ],
    series: [
      {},
      {
        label: spec.unit,
        fill: spec.color,
        stroke: spec.color,
        width: 0,
        points: { show: false },
        paths: bars,
      },
    ],
  }));
  return {
    root,
    update(names, values, empty) {
      labels = names;
      set([names.map((_, i) => i), values], heightFor(names.length));
      root.dataset.bars = String(names.length);
      setText(reading, names.length ? names.map((n, i) => `${n}: ${values[i]}`).join(" · ") : empty);
    },
  };
}
