import { type EventFilter, filterEvents, filterHooks, type HookFilter, tasksOf } from "../model/filters.js";
import type { App, View } from "./app.js";
import { fill, h, time } from "./dom.js";
import { policySection } from "./policy.js";

/** Rows shown by the Hooks and Events views (newest first); the store keeps more. */
const SHOWN = 200;

const formValues = (form: HTMLFormElement) =>
  Object.fromEntries([...new FormData(form)].map(([k, v]) => [k, String(v).trim()]));

export function instancesView(app: App): View {
  const body = h("div");
  const root = h(
    "section",
    { "aria-labelledby": "instances-title" },
    h("h2", { id: "instances-title" }, "Instances and sessions"),
    body,
  );
  return {
    id: "instances",
    title: "Instances",
    root,
    update() {
      const { store } = app;
      const instances = [...store.instances.values()].sort((a, b) => a.id.localeCompare(b.id));
      fill(
        body,
        h(
          "table",
          {},
          h("caption", { class: "muted" }, `${instances.length} registered`),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ...[
                "Id",
                "Roles",
                "Working directory",
                "Load",
                "Last heartbeat",
                "Status",
                "Its tasks",
                "Recent hook decisions",
              ].map((c) => h("th", { scope: "col" }, c)),
            ),
          ),
          h(
            "tbody",
            {},
            ...instances.map((i) => {
              const tasks = tasksOf(store.tasks.values(), i.id);
              const hooks = store.hooks
                .filter((d) => d.instanceId === i.id || (i.sessionId && d.sessionId === i.sessionId))
                .slice(-3);
              return h(
                "tr",
                { "data-instance-id": i.id },
                h("td", {}, i.id),
                h("td", {}, i.roles.join(", ")),
                h("td", {}, i.cwd ?? "—"),
                h("td", {}, `${i.activeTasks ?? tasks.length} / ${i.maxTasks || "∞"}`),
                h("td", {}, time(i.lastSeen)),
                h("td", { class: i.status }, i.status),
                h("td", {}, tasks.map((t) => t.id).join(", ") || "—"),
                h(
                  "td",
                  {},
                  ...hooks.map((d) =>
                    h("div", { class: d.decision }, `${d.decision} ${d.tool}${d.rule ? ` (${d.rule})` : ""}`),
                  ),
                ),
              );
            }),
          ),
        ),
      );
    },
  };
}

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
  const rules = h("div");
  const active = policySection(app);
  const root = h(
    "section",
    { "aria-labelledby": "hooks-title" },
    h("h2", { id: "hooks-title" }, "Pre-tool decisions"),
    form,
    body,
    h("h2", {}, "Rules that decided (since the page opened)"),
    rules,
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
        h(
          "table",
          {},
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ...["Time", "Decision", "Tool", "Call", "Rule", "Reason", "Session"].map((c) =>
                h("th", { scope: "col" }, c),
              ),
            ),
          ),
          h(
            "tbody",
            {},
            ...shown.map((d) =>
              h(
                "tr",
                { "data-decision": d.decision },
                h("td", {}, time(d.ts)),
                h("td", { class: d.decision }, d.decision),
                h("td", {}, d.tool),
                h("td", {}, d.summary ?? ""),
                h("td", {}, d.rule ?? ""),
                h("td", {}, d.reason ?? ""),
                h("td", {}, d.sessionId ?? d.instanceId ?? ""),
              ),
            ),
          ),
        ),
        shown.length ? null : h("p", { class: "muted" }, "No decisions seen since the page opened."),
      );
      const fired = new Map<string, number>();
      for (const d of app.store.hooks) if (d.rule) fired.set(d.rule, (fired.get(d.rule) ?? 0) + 1);
      fill(
        rules,
        fired.size
          ? h("ul", {}, ...[...fired].map(([rule, n]) => h("li", {}, `${rule}: ${n}`)))
          : h("p", { class: "muted" }, "none yet"),
      );
      active.update();
    },
  };
}

export function eventsView(app: App): View {
  const filter: EventFilter = {};
  let paused = false;
  let frozen: typeof app.store.events = [];
  const pause = h("button", { type: "button", "aria-pressed": "false" }, "Pause");
  pause.addEventListener("click", () => {
    paused = !paused;
    frozen = [...app.store.events];
    pause.setAttribute("aria-pressed", String(paused));
    pause.textContent = paused ? "Resume" : "Pause";
    app.schedule();
  });
  const form = h(
    "form",
    { class: "bar", role: "search", "aria-label": "Filter events" },
    h("label", {}, "Event prefixes", h("input", { name: "prefix", placeholder: "task.,hook." })),
    h("label", {}, "Text", h("input", { name: "text", type: "search" })),
    pause,
  );
  form.addEventListener("input", () => {
    Object.assign(filter, formValues(form));
    app.schedule();
  });
  form.addEventListener("submit", (e) => e.preventDefault());
  const body = h("div");
  const root = h(
    "section",
    { "aria-labelledby": "events-title" },
    h("h2", { id: "events-title" }, "Events"),
    form,
    body,
  );
  return {
    id: "events",
    title: "Events",
    root,
    update() {
      const shown = filterEvents(paused ? frozen : app.store.events, filter)
        .slice(-SHOWN)
        .reverse();
      fill(
        body,
        h(
          "table",
          {},
          h(
            "thead",
            {},
            h("tr", {}, ...["Time", "Event", "Payload"].map((c) => h("th", { scope: "col" }, c))),
          ),
          h(
            "tbody",
            {},
            ...shown.map((e) =>
              h(
                "tr",
                {},
                h("td", {}, time(e.ts)),
                h("td", {}, e.event),
                h("td", {}, h("pre", {}, JSON.stringify(e.payload))),
              ),
            ),
          ),
        ),
      );
    },
  };
}
