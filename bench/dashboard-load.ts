/// <reference lib="dom" />
/**
 * The dashboard under load, measured in the page: a server from dist (`serve`, by default with
 * its history store, `--config no-db` without, on a
 * private redis-server), the dashboard in headless Chromium (Debian's, via playwright-core),
 * 10,000 tasks created through the API while the page shows the Tasks view, a reload with
 * them, then a burst of about 200 task events/s (creates, claims, completes) for 10 s.
 *
 *   npm run bench:dashboard [-- --tasks 10000 --rate 200 --seconds 10]
 *
 * Measured in the page: long tasks (PerformanceObserver "longtask", > 50 ms of main thread),
 * frame gaps (requestAnimationFrame deltas), the time until the table says all tasks are
 * there, the time from a click / keypress to the frame that shows its effect during the
 * burst, events received per second, and the JS heap. A benchmark: it prints, asserts nothing.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Locator, type Page } from "playwright-core";
import { startEmbeddedRedis } from "../src/storage/embedded-redis.js";
import { CHROMIUM, CHROMIUM_ARGS } from "../test/helpers/browsers.js";
import {
  benchFlags,
  CONFIG_FLAG,
  ensureBuilt,
  freePort,
  healthyWithDatabase,
  serveArgs,
  serveConfig,
  startChild,
  stopChild,
} from "./lib.js";

const {
  tasks: TASKS,
  rate: RATE,
  seconds: SECONDS,
  config,
} = benchFlags("bench:dashboard", {
  tasks: { int: 10_000, help: "tasks created through the API before the burst" },
  rate: { int: 200, help: "task events per second during the burst (creates, claims, completes)" },
  seconds: { int: 10, help: "length of the burst in seconds" },
  config: CONFIG_FLAG,
});
const CONFIG = serveConfig("bench:dashboard", config);

/** Installed before the page's own script: counts events, watches frames and long tasks. */
const PROBE = () => {
  const w = window as unknown as { __bench: Record<string, unknown> };
  const b = { frames: [] as number[], longTasks: [] as number[], events: 0 };
  w.__bench = b;
  let last = performance.now();
  const tick = (now: number) => {
    b.frames.push(now - last);
    last = now;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) b.longTasks.push(e.duration);
  }).observe({ type: "longtask" as PerformanceEntry["entryType"] as never, buffered: true });
  const Native = WebSocket;
  (window as unknown as { WebSocket: unknown }).WebSocket = class extends Native {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      this.addEventListener("message", () => b.events++);
    }
  };
};

interface Phase {
  frames: number[];
  longTasks: number[];
  events: number;
}

/** What the probe gathered since the last call (and starts afresh). */
async function take(page: Page): Promise<Phase> {
  return page.evaluate(() => {
    const b = (window as unknown as { __bench: Phase }).__bench;
    const out = { frames: b.frames.slice(1), longTasks: [...b.longTasks], events: b.events };
    b.frames = [];
    b.longTasks = [];
    b.events = 0;
    return out;
  });
}

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
};
const ms = (x: number) => (Number.isNaN(x) ? "—" : `${x.toFixed(0)} ms`);

async function heapMb(page: Page): Promise<number> {
  return page.evaluate(
    () =>
      ((performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0) /
      2 ** 20,
  );
}

let port = 0;
let rpcId = 0;
async function batch(calls: [string, Record<string, unknown>][]): Promise<{ result?: unknown }[]> {
  const res = await fetch(`http://127.0.0.1:${port}/rpc/batch`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(calls.map(([method, params]) => ({ jsonrpc: "2.0", id: ++rpcId, method, params }))),
  });
  return (await res.json()) as { result?: unknown }[];
}

/** The number the Tasks view's count line shows ("N of M tasks"). */
const shownTotal = (page: Page) =>
  page.evaluate(() => {
    const p = Array.from(document.querySelectorAll("p")).find((e) =>
      / of \d+ tasks$/.test(e.textContent ?? ""),
    );
    return Number(/ of (\d+) tasks$/.exec(p?.textContent ?? "")?.[1] ?? -1);
  });

async function waitShown(page: Page, total: number, timeoutMs = 300_000): Promise<number> {
  const started = performance.now();
  while ((await shownTotal(page)) < total) {
    if (performance.now() - started > timeoutMs) throw new Error(`the page never showed ${total} tasks`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return performance.now() - started;
}

/**
 * From the input event (real, through Chromium's input pipeline) to the frame whose table shows
 * the text filter applied: with a filter, every listed row's id or text contains it and fewer tasks
 * are listed than there are; without one, all are listed. (The count alone changes with every
 * created task.) Armed before the key is sent, like timeClick; NaN when not shown within 2 s.
 */
async function timeKeypress(page: Page, key: string): Promise<number> {
  await page.evaluate(() => {
    const w = window as unknown as { __key: Promise<number> };
    w.__key = new Promise<number>((resolve) => {
      const armed = performance.now();
      let t0 = Number.NaN;
      let query: string | undefined;
      const applied = () => {
        const count = Array.from(document.querySelectorAll("p")).find((e) =>
          / of \d+ tasks$/.test(e.textContent ?? ""),
        );
        const [shown, total] = (/^(\d+) of (\d+) tasks$/.exec(count?.textContent ?? "") ?? [])
          .slice(1)
          .map(Number);
        if (query === undefined || shown === undefined || total === undefined) return false;
        if (query === "") return shown === total;
        // the filter matches a task's id or text (or its description, which these tasks lack)
        const texts = Array.from(document.querySelectorAll(".scroller [data-task-id]"), (row) =>
          `${row.children[0]?.textContent} ${row.children[1]?.textContent}`.toLowerCase(),
        );
        return shown < total && texts.every((t) => t.includes((query as string).toLowerCase()));
      };
      const check = () => {
        if (query !== undefined && applied()) return resolve(performance.now() - t0);
        if (performance.now() - armed > 2000) return resolve(Number.NaN);
        requestAnimationFrame(check);
      };
      document.addEventListener(
        "input",
        (e) => {
          t0 = performance.now();
          query = ((e.target as HTMLInputElement).value ?? "").trim();
        },
        { once: true, capture: true },
      );
      requestAnimationFrame(check);
    });
  });
  await page.getByRole("search", { name: "Filter tasks" }).getByLabel("Text").press(key);
  return page.evaluate(() => (window as unknown as { __key: Promise<number> }).__key).catch(() => Number.NaN);
}

/** What became of one click: its latency, or why there is none. */
type Click = { ms: number } | { missed: "press off the rows" | "no press arrived" | "not shown within 2 s" };

/**
 * A real mouse click on the table's row at `index` (by position: the live list moves under the
 * pointer), timed from the press to the frame whose detail panel names the task whose row got
 * the press. The page is armed (and that is awaited) before the click is sent: input events can
 * overtake a script evaluation. Null when no row could be located to click (nothing clicked).
 */
async function timeClick(page: Page, index: number): Promise<Click | null> {
  // Located again when the row left the DOM between the steps (the list changes all the time);
  // the table sits below the board: a row must be in the viewport for a mouse click to reach it.
  let box: Awaited<ReturnType<Locator["boundingBox"]>> = null;
  for (let attempt = 0; attempt < 5 && !box; attempt++) {
    const row = page.locator(".scroller [data-task-id]").nth(index);
    await row.scrollIntoViewIfNeeded();
    box = await row.boundingBox();
  }
  if (!box) return null;
  await page.evaluate(() => {
    const w = window as unknown as { __click: Promise<Click> };
    w.__click = new Promise<Click>((resolve) => {
      const armed = performance.now();
      let pressed: string | null | undefined;
      let t0 = Number.NaN;
      const check = () => {
        if (pressed === null) return resolve({ missed: "press off the rows" });
        if (pressed && document.querySelector("#detail h2")?.textContent?.startsWith(`${pressed}:`))
          return resolve({ ms: performance.now() - t0 });
        if (performance.now() - armed > 2000)
          return resolve({ missed: pressed ? "not shown within 2 s" : "no press arrived" });
        requestAnimationFrame(check);
      };
      document.addEventListener(
        "mousedown",
        (e) => {
          t0 = performance.now();
          pressed =
            e.target instanceof Element
              ? (e.target.closest(".scroller [data-task-id]")?.getAttribute("data-task-id") ?? null)
              : null;
        },
        { once: true, capture: true },
      );
      requestAnimationFrame(check);
    });
  });
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  return page
    .evaluate(() => (window as unknown as { __click: Promise<Click> }).__click)
    .catch((): Click => ({ missed: "not shown within 2 s" }));
}

const rows: string[][] = [];
function report(phase: string, p: Phase, seconds: number, extra: Record<string, string>): void {
  const total = p.longTasks.reduce((a, b) => a + b, 0);
  rows.push([
    phase,
    String(Math.round(p.events / seconds)),
    ms(pct(p.frames, 50)),
    ms(pct(p.frames, 99)),
    ms(Math.max(0, ...p.frames)),
    `${p.longTasks.length} (${ms(total)}, max ${ms(Math.max(0, ...p.longTasks))})`,
    ...Object.values(extra),
  ]);
}

async function main(): Promise<void> {
  ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), "cb-bench-dash-"));
  const redis = await startEmbeddedRedis({ dataDir: join(dir, "redis"), appendOnly: false });
  port = await freePort();
  const server = await startChild(
    "server",
    serveArgs(port, redis.url, "benchdash", CONFIG, join(dir, "store")),
    {
      ready: healthyWithDatabase(port),
      timeoutMs: 120_000,
    },
  );
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [...CHROMIUM_ARGS, "--enable-precise-memory-info"],
  });
  let closing = false;
  browser.on("disconnected", () => {
    if (!closing) console.error("the browser went away before the measurements ended");
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on("crash", () => console.error("the page crashed"));
    page.on("pageerror", (err) => console.error(`page error: ${err.message}`));
    // tsx (esbuild keepNames) wraps named functions in __name(): give the page one.
    await page.addInitScript({ content: "window.__name = (f) => f;" });
    await page.addInitScript(PROBE);
    await page.goto(`http://127.0.0.1:${port}/#tasks`);
    await page.locator("#conn", { hasText: "live" }).waitFor();
    await take(page);

    // 1. 10,000 tasks created while the page watches: batches of 100, 4 in flight.
    const load0 = performance.now();
    let next = 0;
    const creator = async () => {
      while (next < TASKS) {
        const n = Math.min(100, TASKS - next);
        const from = next;
        next += n;
        await batch(
          Array.from({ length: n }, (_, i) => [
            "task.create",
            { text: `bench task ${from + i}`, priority: (from + i) % 100 },
          ]),
        );
      }
    };
    await Promise.all([creator(), creator(), creator(), creator()]);
    const apiDone = (performance.now() - load0) / 1000;
    await waitShown(page, TASKS);
    const loadSeconds = (performance.now() - load0) / 1000;
    report(`create ${TASKS} live`, await take(page), loadSeconds, {
      shown: `${loadSeconds.toFixed(1)} s (API done ${apiDone.toFixed(1)} s)`,
      heap: `${(await heapMb(page)).toFixed(0)} MB`,
    });

    // 2. A fresh page: the snapshot (task.list pages) and the replay.
    const reload0 = performance.now();
    await page.reload();
    await page.locator("#conn", { hasText: "live" }).waitFor();
    await waitShown(page, TASKS);
    const reloadSeconds = (performance.now() - reload0) / 1000;
    report(`reload with ${TASKS}`, await take(page), reloadSeconds, {
      shown: `${reloadSeconds.toFixed(1)} s`,
      heap: `${(await heapMb(page)).toFixed(0)} MB`,
    });

    // 3. The burst: every 100 ms a third of the events are creates, a third claims, a third
    // completes of the previous tick's claims; clicks and keypresses measured meanwhile.
    await batch([["system.register", { id: "bench-worker", roles: ["worker"], maxTasks: 0 }]]);
    const perTick = Math.max(1, Math.round(RATE / 10 / 3));
    let held: string[] = [];
    let created = 0;
    let stop = false;
    const burst = (async () => {
      const t0 = performance.now();
      for (let tick = 0; tick < SECONDS * 10 && !stop; tick++) {
        const calls: [string, Record<string, unknown>][] = [
          ...Array.from({ length: perTick }, (_, i): [string, Record<string, unknown>] => [
            "task.create",
            { text: `burst ${tick}.${i}`, priority: 50 },
          ]),
          ...Array.from({ length: perTick }, (): [string, Record<string, unknown>] => [
            "task.claim",
            { workerId: "bench-worker" },
          ]),
          ...held.map((id): [string, Record<string, unknown>] => [
            "task.complete",
            { id, workerId: "bench-worker", result: { ok: true } },
          ]),
        ];
        created += perTick;
        const answers = await batch(calls);
        held = answers
          .slice(perTick, 2 * perTick)
          .map((a) => (a.result as { taskId?: string } | undefined)?.taskId)
          .filter((id): id is string => typeof id === "string");
        const wait = t0 + (tick + 1) * 100 - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      stop = true;
    })();
    const clicks: Click[] = [];
    let unlocated = 0; // no row to click at that index after five tries: not a click
    const keys: number[] = [];
    const burst0 = performance.now();
    try {
      for (let i = 0; !stop; i++) {
        const click = await timeClick(page, 1 + (i % 10));
        if (click) clicks.push(click);
        else unlocated++;
        keys.push(await timeKeypress(page, "1"));
        keys.push(await timeKeypress(page, "Backspace"));
        await new Promise((r) => setTimeout(r, 300));
      }
    } finally {
      stop = true; // a failed measurement ends the burst too, before the server is stopped
      await burst;
    }
    const burstSeconds = (performance.now() - burst0) / 1000;
    const during = await take(page);
    const caughtUp0 = performance.now();
    await waitShown(page, TASKS + created, 60_000);
    report(`burst ${SECONDS} s`, during, burstSeconds, {
      shown: `caught up ${((performance.now() - caughtUp0) / 1000).toFixed(1)} s after`,
      heap: `${(await heapMb(page)).toFixed(0)} MB`,
    });

    const done = clicks.flatMap((c) => ("ms" in c ? [c.ms] : []));
    const missed = (why: string) => clicks.filter((c) => "missed" in c && c.missed === why).length;
    const keysDone = keys.filter((c) => !Number.isNaN(c));
    const head = [
      "phase",
      "events/s",
      "frame p50",
      "frame p99",
      "frame max",
      "long tasks (total, max)",
      "all shown",
      "JS heap",
    ];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
    const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ");
    console.log(
      `\n${cpus().length} cores, load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}`,
    );
    console.log(line(head));
    for (const r of rows) console.log(line(r));
    console.log(
      `\nduring the burst: click → detail shown p50 ${ms(pct(done, 50))}, max ${ms(Math.max(...done))} (${done.length} of ${clicks.length} clicks took effect; ${missed("not shown within 2 s")} pressed a row whose task was not shown, ${missed("press off the rows")} pressed off the rows, ${missed("no press arrived")} without a press arriving; ${unlocated} not clicked: no row located); ` +
        `keypress → table filtered p50 ${ms(pct(keysDone, 50))}, max ${ms(Math.max(...keysDone))} (${keysDone.length} of ${keys.length} took effect)`,
    );
  } finally {
    closing = true;
    await browser.close();
    await stopChild(server.child);
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
