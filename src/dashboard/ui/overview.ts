import { formatMs, slowestMethods } from "../model/activity.js";
import { callsChart, methodTable, queueChart } from "./activity-charts.js";
import type { App, View } from "./app.js";
import { fill, h, plural } from "./dom.js";

function card(label: string, value: string | number, cls = "", note?: string): HTMLElement {
  return h(
    "div",
    { class: "card" },
    h("div", { class: "muted" }, label),
    h("div", { class: `value ${cls}` }, value),
    note ? h("div", { class: "muted note" }, note) : null,
  );
}

/**
 * The fleet at a glance: who is there, the queue, and the headline figures over the last
 * minutes (system.activity's window: per method, so one slow call long ago does not stay the
 * p99), with the throughput and the queue of the last hour.
 */
export function overviewView(app: App): View {
  const cards = h("div", { class: "cards" });
  const headline = h("div", { class: "cards" });
  const calls = callsChart();
  const queue = queueChart();
  const slowest = h("div");
  const breakers = h("div");
  const headlineTitle = h("h2", { id: "headline-title" }, "Last 5 minutes");
  const root = h(
    "section",
    { "aria-labelledby": "overview-title" },
    h("h2", { id: "overview-title" }, "Overview"),
    cards,
    h("div", { role: "region", "aria-labelledby": "headline-title" }, headlineTitle, headline),
    h("div", { class: "charts" }, calls.root, queue.root),
    h("h2", {}, "Slowest methods"),
    slowest,
    h("h2", {}, "Open circuit breakers"),
    breakers,
  );
  return {
    id: "overview",
    title: "Overview",
    root,
    update() {
      const { store, health, stats, activity } = app;
      const byStatus = store.countByStatus();
      const live = [...store.instances.values()].filter((i) => i.status === "active");
      const workers = live.filter((i) => i.kind === "worker").length;
      const sessions = live.filter((i) => i.kind === "session").length;
      const partitioned = health?.cluster?.partitioned ?? store.partitioned;
      const open = store.openBreakers();
      fill(
        cards,
        card(
          "Instances alive",
          live.length,
          "",
          `${plural(workers, "worker")} · ${plural(sessions, "session")}`,
        ),
        card("Leader", health?.cluster?.leaderId ?? "—"),
        card("Partition", partitioned ? "PARTITIONED" : "no", partitioned ? "deny" : "allow"),
        card("Server health", health?.status ?? "—"),
        ...Object.entries(byStatus).map(([s, n]) => card(`Tasks ${s.replace("_", " ")}`, n, s)),
        card("Dead letters", stats?.deadLetters ?? store.deadLetters().length, "failed"),
        card("Open breakers", open.length, open.length ? "open" : ""),
      );
      if (activity) {
        const w = activity.window;
        const slow = slowestMethods(activity, 5);
        headlineTitle.textContent = `Last ${w.minutes} minutes (this server)`;
        fill(
          headline,
          card("Calls / min", (w.calls / w.minutes).toFixed(1)),
          card(
            "Errors",
            w.errors,
            w.errors ? "failed" : "",
            w.calls ? `${((100 * w.errors) / w.calls).toFixed(1)} % of calls` : undefined,
          ),
          card("p99, all methods", formatMs(w.latency?.p99Ms)),
          card("Slowest method (p99)", formatMs(slow[0]?.latency?.p99Ms), "", slow[0]?.method ?? "no calls"),
        );
        calls.update(activity);
        queue.update(activity);
        fill(
          slowest,
          slow.length
            ? methodTable("Slowest methods", slow, `the highest p99 over the last ${w.minutes} minutes`)
            : h("p", { class: "muted" }, "no calls in the last minutes"),
        );
      }
      fill(
        breakers,
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
