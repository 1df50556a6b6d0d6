import { tasksOf } from "../model/filters.js";
import type { InstanceKind, InstanceView } from "../model/records.js";
import type { App, View } from "./app.js";
import { ago, dateTime, fill, h, plural } from "./dom.js";

/** Task ids listed on an instance's card; the rest is counted. */
const HELD_SHOWN = 8;

/** Each kind's heading, and how one and many are named. */
const GROUPS: [InstanceKind, string, string, string][] = [
  ["worker", "Workers", "worker", "workers"],
  ["session", "Claude Code sessions", "Claude Code session", "Claude Code sessions"],
  ["agent", "Other agents", "other agent", "other agents"],
];
const BADGE: Record<InstanceKind, string> = { worker: "worker", session: "Claude Code", agent: "agent" };

const text = (v: unknown) => (typeof v === "string" || typeof v === "number" ? String(v) : undefined);

/** The "label: value" lines of a card; a line without a value is left out. */
function facts(lines: [string, Node | string | undefined][]): HTMLElement {
  return h(
    "dl",
    { class: "facts" },
    ...lines.flatMap(([label, value]) =>
      value === undefined ? [] : [h("dt", {}, label), h("dd", {}, value)],
    ),
  );
}

/**
 * Everything registered with the cluster, live: `claudebench worker` processes and Claude
 * Code sessions told apart, each with its roles, capabilities, concurrency (maxTasks) against
 * what it holds now, and its last heartbeat (polled every few seconds).
 */
export function instancesView(app: App): View {
  const summary = h("p", { class: "muted" });
  const body = h("div");
  const root = h(
    "section",
    { "aria-labelledby": "instances-title" },
    h("h2", { id: "instances-title" }, "Instances"),
    summary,
    body,
  );

  const card = (i: InstanceView, now: number) => {
    const held = tasksOf(app.store.tasks.values(), i.id);
    const holding = i.activeTasks ?? held.length;
    const m = i.metadata;
    const capacity = i.maxTasks > 0 ? i.maxTasks : undefined;
    const load = h(
      "span",
      { class: "load" },
      `${holding} of ${capacity ?? "∞"}`,
      capacity ? h("meter", { min: 0, max: capacity, value: holding, "aria-label": `${i.id} load` }) : null,
    );
    const ids = held.slice(0, HELD_SHOWN).map((t) => t.id);
    const heartbeat = h("span", { title: dateTime(i.lastSeen) }, ago(i.lastSeen, now));
    const hooks = app.store.hooks
      .filter((d) => d.instanceId === i.id || (i.sessionId && d.sessionId === i.sessionId))
      .slice(-3);
    return h(
      "article",
      { class: `instance ${i.status}`, "data-instance-id": i.id, "data-kind": i.kind },
      h(
        "header",
        {},
        h("h4", {}, i.id),
        h("span", { class: `badge kind-${i.kind}` }, BADGE[i.kind]),
        h("span", { class: `badge ${i.status}` }, i.status),
      ),
      facts([
        ["Roles", i.roles.join(", ") || "—"],
        ["Capabilities", i.capabilities.join(", ") || "any task"],
        [i.kind === "worker" ? "Concurrency" : "Load", load],
        [
          "Holds",
          ids.length
            ? ids.join(", ") + (held.length > ids.length ? ` +${held.length - ids.length}` : "")
            : "—",
        ],
        ["Last heartbeat", heartbeat],
        ["Command", text(m.command)],
        ["Host", text(m.host) && `${m.host}${text(m.pid) ? ` · pid ${m.pid}` : ""}`],
        ["Channel", text(m.channel)],
        ["Directory", i.cwd],
        ["Session", i.sessionId],
        ["Status", i.statusText],
        ["Registered", i.registeredAt ? dateTime(i.registeredAt) : undefined],
      ]),
      hooks.length
        ? h(
            "ul",
            { class: "decisions", "aria-label": "Recent hook decisions" },
            ...hooks.map((d) =>
              h("li", { class: d.decision }, `${d.decision} ${d.tool}${d.rule ? ` (${d.rule})` : ""}`),
            ),
          )
        : null,
    );
  };

  return {
    id: "instances",
    title: "Instances",
    root,
    update() {
      const now = Date.now();
      const all = [...app.store.instances.values()].sort((a, b) => a.id.localeCompare(b.id));
      const groups = GROUPS.map(([kind, title, one, many]) => ({
        title,
        list: all.filter((i) => i.kind === kind),
        named: (n: number) => plural(n, one, many),
      }));
      summary.textContent = `${all.length} registered: ${groups.map((g) => g.named(g.list.length)).join(" · ")}`;
      fill(
        body,
        ...groups.flatMap(({ title, list }) =>
          list.length
            ? [
                h("h3", {}, `${title} (${list.length})`),
                h("div", { class: "instances" }, ...list.map((i) => card(i, now))),
              ]
            : [],
        ),
        all.length ? null : h("p", { class: "muted" }, "Nothing registered yet."),
      );
    },
  };
}
