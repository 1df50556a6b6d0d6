import type { Activity } from "../model/activity.js";
import { type Breaker, DashboardStore } from "../model/store.js";
import { Api } from "./api.js";
import type { App, Health, TaskStats, View } from "./app.js";
import { h } from "./dom.js";
import { eventsView } from "./events.js";
import { hooksView } from "./hooks.js";
import { instancesView } from "./instances.js";
import { connectLive } from "./live.js";
import { metricsView } from "./metrics.js";
import { overviewView } from "./overview.js";
import { tasksView } from "./tasks.js";

/**
 * The dashboard: the live store fed by /ws, a light poller for the figures no event carries
 * (health, queue stats, instances' heartbeats, system.activity: one round every POLL_MS while
 * the tab is visible), and the views, redrawn at most once per animation frame whatever the
 * event rate.
 */

const POLL_MS = 5_000;
/** Without a resume point, the first connection replays this much of the stream (task histories). */
const REPLAY_MS = 5 * 60_000;
/** A snapshot of at most this many tasks is loaded on each (re)connection. */
const SNAPSHOT_TASKS = 10_000;
const THEME_KEY = "claudebench.theme";

const api = new Api();
const store = new DashboardStore();
const conn = document.getElementById("conn") as HTMLElement;
const main = document.getElementById("main") as HTMLElement;
const nav = document.getElementById("nav") as HTMLElement;
const notice = h("p", { role: "status", "aria-live": "polite", class: "muted" });

/** How long the outcome of an action stays in the status line (errors stay). */
const NOTICE_MS = 6_000;
let noticeTimer: ReturnType<typeof setTimeout> | undefined;
let frame = 0;
let drawnVersion = -1;
let drawnPoll = -1;
let drawnView = "";
let dirty = true;

const app: App = {
  store,
  api,
  schedule() {
    dirty = true;
    if (frame === 0) frame = requestAnimationFrame(draw);
  },
  notify(message, isError = false) {
    notice.textContent = message;
    notice.className = isError ? "error-text" : "muted";
    clearTimeout(noticeTimer);
    if (!isError) noticeTimer = setTimeout(() => notice.replaceChildren(), NOTICE_MS); // an outcome, not a state
  },
  refresh: () => void poll(),
  health: undefined,
  stats: undefined,
  activity: undefined,
  latencyMethod: undefined,
  pollVersion: 0,
};

const views: View[] = [
  overviewView(app),
  tasksView(app),
  instancesView(app),
  hooksView(app),
  eventsView(app),
  metricsView(app),
];

function current(): View {
  const id = location.hash.slice(1);
  return views.find((v) => v.id === id) ?? (views[0] as View);
}

function draw(): void {
  frame = 0;
  const view = current();
  const changed = store.version !== drawnVersion || app.pollVersion !== drawnPoll || view.id !== drawnView;
  if (!changed && !dirty) return;
  dirty = false;
  drawnVersion = store.version;
  drawnPoll = app.pollVersion;
  if (view.id !== drawnView) {
    drawnView = view.id;
    for (const v of views) v.root.hidden = v !== view;
    for (const a of nav.querySelectorAll("a")) {
      if (a.getAttribute("href") === `#${view.id}`) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    document.title = `${view.title} · ClaudeBench`;
  }
  view.update();
}

function setTheme(theme: string | null): void {
  if (theme) document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
  document.dispatchEvent(new Event("themechange")); // the charts redraw in the new colours
}

function askToken(): Promise<string> {
  const dialog = document.getElementById("token-dialog") as HTMLDialogElement;
  const input = document.getElementById("token-input") as HTMLInputElement;
  const form = document.getElementById("token-form") as HTMLFormElement;
  return new Promise((resolve) => {
    form.addEventListener(
      "submit",
      () => {
        const token = input.value.trim();
        input.value = "";
        resolve(token);
      },
      { once: true },
    );
    if (!dialog.open) dialog.showModal();
  });
}

async function snapshot(): Promise<void> {
  const [tasks, instances, circuits] = await Promise.all([
    loadTasks(),
    api.call<{ instances: unknown[] }>("system.instances"),
    api.call<{ circuits: Breaker[] }>("system.circuits"),
  ]);
  store.loadTasks(tasks);
  store.loadInstances(instances.instances);
  store.loadBreakers(circuits.circuits);
  app.schedule();
}

async function loadTasks(): Promise<unknown[]> {
  const all: unknown[] = [];
  for (let offset = 0; offset < SNAPSHOT_TASKS; offset += 1000) {
    const page = await api.call<{ tasks: unknown[]; hasMore: boolean }>("task.list", { limit: 1000, offset });
    all.push(...page.tasks);
    if (!page.hasMore) break;
  }
  return all;
}

async function poll(): Promise<void> {
  if (document.hidden) return;
  try {
    const [health, stats, instances, activity] = await Promise.all([
      api.call<Health>("system.health"),
      api.call<TaskStats>("task.stats"),
      api.call<{ instances: unknown[] }>("system.instances"),
      api.call<Activity>("system.activity", app.latencyMethod ? { method: app.latencyMethod } : {}),
    ]);
    app.health = health;
    app.stats = stats;
    app.activity = activity;
    store.loadInstances(instances.instances); // heartbeats are not events: lastSeen comes from here
    app.pollVersion++;
    app.schedule();
  } catch (err) {
    app.notify(`refresh failed: ${(err as Error).message}`, true);
  }
}

async function start(): Promise<void> {
  setTheme(localStorage.getItem(THEME_KEY));
  (document.getElementById("theme") as HTMLButtonElement).addEventListener("click", () => {
    const dark =
      document.documentElement.dataset.theme === "dark" ||
      (!document.documentElement.dataset.theme && matchMedia("(prefers-color-scheme: dark)").matches);
    const next = dark ? "light" : "dark";
    localStorage.setItem(THEME_KEY, next);
    setTheme(next);
  });
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () =>
    document.dispatchEvent(new Event("themechange")),
  );
  for (const v of views) {
    v.root.hidden = true;
    main.append(v.root);
    nav.append(h("a", { href: `#${v.id}` }, v.title));
  }
  main.prepend(notice);
  addEventListener("hashchange", () => app.schedule());
  api.askToken = askToken;
  const config = (await (await fetch("/ui/config.json")).json()) as { auth: boolean };
  if (config.auth && !api.token) api.token = await askToken();

  const replayFrom = `${Date.now() - REPLAY_MS}-0`;
  connectLive({
    token: () => api.token,
    lastEventId: () => store.lastEventId ?? replayFrom,
    onEvent: (e) => {
      store.apply(e);
      app.schedule();
    },
    onState: (state, detail) => {
      conn.textContent = state === "open" ? "live" : (detail ?? "offline");
      // (Re)connected: the snapshot covers whatever the stream no longer holds.
      if (state === "open") snapshot().catch((err) => app.notify(`loading failed: ${err.message}`, true));
    },
    onUnauthorized: () => {
      api.token = null;
      askToken().then((token) => {
        api.token = token;
      });
    },
  });
  void poll();
  setInterval(() => void poll(), POLL_MS);
  app.schedule();
}

void start();
