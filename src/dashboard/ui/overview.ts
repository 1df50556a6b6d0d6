import { polylinePoints } from "../model/series.js";
import type { App, View } from "./app.js";
import { chart, fill, h } from "./dom.js";

function card(label: string, value: string | number, cls = ""): HTMLElement {
  return h(
    "div",
    { class: "card" },
    h("div", { class: "muted" }, label),
    h("div", { class: `value ${cls}` }, value),
  );
}

export function overviewView(app: App): View {
  const root = h("section", { "aria-labelledby": "overview-title" });
  const body = h("div");
  root.append(h("h2", { id: "overview-title" }, "Overview"), body);
  return {
    id: "overview",
    title: "Overview",
    root,
    update() {
      const { store, health, stats } = app;
      const byStatus = store.countByStatus();
      const alive = [...store.instances.values()].filter((i) => i.status === "active").length;
      const partitioned = health?.cluster?.partitioned ?? store.partitioned;
      const open = store.openBreakers();
      fill(
        body,
        h(
          "div",
          { class: "cards" },
          card("Instances alive", alive),
          card("Leader", health?.cluster?.leaderId ?? "—"),
          card("Partition", partitioned ? "PARTITIONED" : "no", partitioned ? "deny" : "allow"),
          card("Server health", health?.status ?? "—"),
          ...Object.entries(byStatus).map(([s, n]) => card(`Tasks ${s}`, n, s)),
          card("Dead letters", stats?.deadLetters ?? store.deadLetters().length, "failed"),
          card("Open breakers", open.length, open.length ? "open" : ""),
        ),
        h("h2", {}, "Throughput and latency"),
        h(
          "div",
          { class: "charts" },
          h(
            "figure",
            {},
            chart("Calls per second", polylinePoints(app.series.calls.values, 300, 80)),
            h("figcaption", {}, `calls/s: ${(app.series.calls.values.at(-1) ?? 0).toFixed(1)}`),
          ),
          h(
            "figure",
            {},
            chart("p99 latency, slowest method", polylinePoints(app.series.p99.values, 300, 80)),
            h("figcaption", {}, `p99 ms (slowest method): ${(app.series.p99.values.at(-1) ?? 0).toFixed(1)}`),
          ),
        ),
        h("h2", {}, "Open circuit breakers"),
        open.length
          ? h(
              "ul",
              {},
              ...open.map((b) =>
                h(
                  "li",
                  { class: b.state },
                  `${b.method}: ${b.state} until ${new Date(b.openUntil).toLocaleTimeString()}`,
                ),
              ),
            )
          : h("p", { class: "muted" }, "none"),
      );
    },
  };
}
