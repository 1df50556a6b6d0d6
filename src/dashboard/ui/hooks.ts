import { ranked } from "../model/activity.js";
import { filterHooks, type HookFilter } from "../model/filters.js";
import { COLORS } from "./activity-charts.js";
import type { App, View } from "./app.js";
import { barChart } from "./charts.js";
import { dataTable, fill, formValues, h, time } from "./dom.js";
import { policySection } from "./policy.js";

/** Decisions listed (newest first); the store keeps more. */
const SHOWN = 200;

/** Pre-tool decisions as they arrive, the rules that decided (a bar chart), and the rules in force. */
export function hooksView(app: App): View {
  const filter: HookFilter = {};
  const form = h(
    "form",
    { class: "bar", role: "search", "aria-label": "Filter hook decisions" },
    h("label", {}, "Session or instance", h("input", { name: "session" })),
    h(
      "label",
      {},
      "Decision",
      h(
        "select",
        { name: "decision" },
        h("option", { value: "" }, "any"),
        ...["deny", "ask", "allow", "modify", "warn"].map((d) => h("option", { value: d }, d)),
      ),
    ),
  );
  form.addEventListener("input", () => {
    Object.assign(filter, formValues(form));
    app.schedule();
  });
  form.addEventListener("submit", (e) => e.preventDefault());
  const body = h("div");
  const rules = barChart({
    id: "rules",
    title: "Rules that decided (since the page opened)",
    unit: "decisions",
    color: COLORS.purple,
  });
  const active = policySection(app);
  const root = h(
    "section",
    { "aria-labelledby": "hooks-title" },
    h("h2", { id: "hooks-title" }, "Pre-tool decisions"),
    form,
    body,
    h("div", { class: "charts" }, rules.root),
    active.root,
  );
  return {
    id: "hooks",
    title: "Hooks",
    root,
    update() {
      const shown = filterHooks(app.store.hooks, filter).slice(-SHOWN).reverse();
      fill(
        body,
        shown.length
          ? dataTable(
              { "aria-label": "Pre-tool decisions" },
              ["Time", "Decision", "Tool", "Call", "Rule", "Reason", "Session"],
              shown.map((d) => ({
                attrs: { "data-decision": d.decision },
                cells: [
                  time(d.ts),
                  h("span", { class: d.decision }, d.decision),
                  d.tool,
                  d.summary ?? "",
                  d.rule ?? "",
                  d.reason ?? "",
                  d.sessionId ?? d.instanceId ?? "",
                ],
              })),
            )
          : h("p", { class: "muted" }, "No decisions seen since the page opened."),
      );
      const fired = new Map<string, number>();
      for (const d of app.store.hooks) if (d.rule) fired.set(d.rule, (fired.get(d.rule) ?? 0) + 1);
      const { labels, values } = ranked(fired);
      rules.update(labels, values, "no rule has decided yet");
      active.update();
    },
  };
}
