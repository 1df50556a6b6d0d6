import { polylinePoints } from "../model/series.js";
import type { App, View } from "./app.js";
import { chart, fill, h } from "./dom.js";

const ms = (v: number | undefined) => (v === undefined ? "—" : v.toFixed(1));

/** Charts from the poller's series (one `GET /metrics` every few seconds), and the per-method table. */
export function metricsView(app: App): View {
  const body = h("div");
  const root = h(
    "section",
    { "aria-labelledby": "metrics-title" },
    h("h2", { id: "metrics-title" }, "Metrics"),
    body,
  );
  const figure = (label: string, values: number[]) =>
    h(
      "figure",
      {},
      chart(label, polylinePoints(values, 300, 80)),
      h("figcaption", {}, `${label}: ${(values.at(-1) ?? 0).toFixed(2)}`),
    );
  return {
    id: "metrics",
    title: "Metrics",
    root,
    update() {
      const { series, metrics } = app;
      fill(
        body,
        h(
          "div",
          { class: "charts" },
          figure("Calls per second", series.calls.values),
          figure("Errors per second", series.errors.values),
          figure("p99 latency ms (slowest method)", series.p99.values),
          figure("Queue depth", series.queue.values),
        ),
        h("h2", {}, "Errors by code (since the server started)"),
        metrics && Object.keys(metrics.errorsByCode).length
          ? h(
              "ul",
              {},
              ...Object.entries(metrics.errorsByCode).map(([code, n]) => h("li", {}, `${code}: ${n}`)),
            )
          : h("p", { class: "muted" }, "none"),
        h("h2", {}, "Per method (this server process)"),
        h(
          "table",
          {},
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ...["Method", "Calls", "Errors", "p50 ms", "p99 ms"].map((c) => h("th", { scope: "col" }, c)),
            ),
          ),
          h(
            "tbody",
            {},
            ...(metrics?.methods ?? [])
              .filter((m) => m.calls > 0)
              .map((m) =>
                h(
                  "tr",
                  {},
                  h("td", {}, m.method),
                  h("td", {}, m.calls),
                  h("td", {}, m.errors),
                  h("td", {}, ms(m.p50)),
                  h("td", {}, ms(m.p99)),
                ),
              ),
          ),
        ),
      );
    },
  };
}
