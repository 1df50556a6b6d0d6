import { clock, summarize, toneOf } from "../../client/event-format.js";
import { type EventFilter, filterEvents } from "../model/filters.js";
import type { LiveEvent } from "../model/store.js";
import type { App, View } from "./app.js";
import { formValues, h, keyedChildren, setText } from "./dom.js";

/** Lines shown (newest first); the store keeps more. */
const SHOWN = 200;

/**
 * The live events, one line each as `claudebench relay` prints them (the same summary and
 * colours: client/event-format.ts), newest first; a click on a line shows its JSON below it.
 * Lines keep their element while they stay shown, so an opened one stays open as events arrive.
 */
export function eventsView(app: App): View {
  const filter: EventFilter = {};
  let paused = false;
  let frozen: LiveEvent[] = [];
  const opened = new Set<string>();
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
  const count = h("p", { class: "muted", "aria-live": "polite" });
  const list = h("ol", { class: "event-lines", "aria-label": "Events, newest first" });
  const rendered = new Map<string, HTMLElement>();
  const root = h(
    "section",
    { "aria-labelledby": "events-title" },
    h("h2", { id: "events-title" }, "Events"),
    form,
    count,
    list,
  );

  const makeLine = (e: LiveEvent) => {
    const json = h("pre", { class: "event-json", hidden: true }, JSON.stringify(e, null, 2));
    const line = h(
      "button",
      { type: "button", class: "event-line", "aria-expanded": "false" },
      h("time", { datetime: new Date(e.ts).toISOString() }, clock(e.ts)),
      h("span", { class: `name tone-${toneOf(e.event) ?? "none"}` }, e.event),
      h("span", { class: "summary" }, summarize(e.payload ?? {})),
      h("span", { class: "source" }, e.source ?? ""),
    );
    line.addEventListener("click", () => {
      const open = !opened.has(e.id);
      if (open) opened.add(e.id);
      else opened.delete(e.id);
      line.setAttribute("aria-expanded", String(open));
      json.hidden = !open;
    });
    return h("li", { "data-event-id": e.id, "data-event": e.event }, line, json);
  };

  return {
    id: "events",
    title: "Events",
    root,
    update() {
      const source = paused ? frozen : app.store.events;
      const shown = filterEvents(source, filter).slice(-SHOWN).reverse();
      setText(count, `${shown.length} of ${source.length} events${paused ? " (paused)" : ""}`);
      keyedChildren(
        list,
        0,
        shown,
        rendered,
        (e) => e.id,
        makeLine,
        () => {},
      );
      for (const id of opened) if (!rendered.has(id)) opened.delete(id);
    },
  };
}
