import {
  callsChart,
  errorsByCodeChart,
  finishedChart,
  latencyChart,
  methodTable,
  queueChart,
  workersChart,
} from "./activity-charts.js";
import type { App, View } from "./app.js";
import { fill, h } from "./dom.js";

/**
 * The last hour in charts (system.activity, polled every few seconds), errors by code as a
 * bar chart, and per-method figures over the last minutes. The latency chart follows all
 * methods or the one picked.
 */
export function metricsView(app: App): View {
  const calls = callsChart();
  const latency = latencyChart();
  const queue = queueChart();
  const finished = finishedChart();
  const workers = workersChart();
  const errors = errorsByCodeChart();
  const method = h("select", { name: "method" }, h("option", { value: "" }, "all methods"));
  let offered = "";
  method.addEventListener("change", () => {
    app.latencyMethod = method.value || undefined;
    app.refresh();
  });
  const table = h("div");
  const tableTitle = h("h2", {}, "Per method");
  const root = h(
    "section",
    { "aria-labelledby": "metrics-title" },
    h("h2", { id: "metrics-title" }, "Metrics"),
    h(
      "form",
      { class: "bar", "aria-label": "Chart options" },
      h("label", {}, "Calls and latency of", method),
    ),
    h(
      "div",
      { class: "charts" },
      calls.root,
      latency.root,
      queue.root,
      finished.root,
      workers.root,
      errors.root,
    ),
    tableTitle,
    table,
  );
  return {
    id: "metrics",
    title: "Metrics",
    root,
    update() {
      const { activity } = app;
      if (!activity) return;
      const names = activity.window.methods.map((m) => m.method).sort();
      if (app.latencyMethod && !names.includes(app.latencyMethod)) names.push(app.latencyMethod);
      if (names.join("\n") !== offered) {
        offered = names.join("\n");
        fill(
          method,
          h("option", { value: "" }, "all methods"),
          ...names.map((n) => h("option", { value: n, selected: n === app.latencyMethod }, n)),
        );
      }
      calls.update(activity);
      latency.update(activity, app.latencyMethod);
      queue.update(activity);
      finished.update(activity);
      workers.update(activity, app.store.instances);
      errors.update(activity);
      tableTitle.textContent = `Per method, last ${activity.window.minutes} minutes (this server)`;
      fill(table, methodTable("Per-method figures", activity.window.methods));
    },
  };
}
