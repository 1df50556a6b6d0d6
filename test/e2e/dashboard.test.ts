import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Locator, Page } from "playwright-core";
import { BROWSERS, type OpenedPage } from "../helpers/browsers.js";
import { freePort, runCli, type SpawnedCli, waitFor } from "../helpers/cli.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";

/**
 * The dashboard in real headless Chromium and Firefox (Debian's packages, driven by
 * playwright-core, see helpers/browsers.ts) against `claudebench serve` with a token: what a
 * person sees as the fleet works, at a desktop's width and a phone's (390 px). Run
 * `npm run build` first (the test serves the built bundle). Screenshots of each view, at both
 * widths (`<view>.png`, `<view>-phone.png`), go to test-output/dashboard/<browser>/ (git-ignored).
 * The server uses a private redis-server of the test's own, so a restarted server finds the
 * same state (the page must carry on from where it was).
 */

const TOKEN = "dashboard-e2e-token";
const WORKER = "worker-build-box-4242";
const DESKTOP = { width: 1400, height: 1000 };
/** A phone's width (issue 18, item 20). */
const PHONE = { width: 390, height: 844 };
/** How Chromium and Firefox log a connection the stopped server refused (or cut, a request in flight when it died). */
const REFUSED =
  /ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|WebSocket connection to .* failed|can’t establish a connection to the server at/;
const OUTPUT = join(import.meta.dirname, "../../test-output/dashboard");
const FIXTURE = join(import.meta.dirname, "../fixtures/claude-hooks/pre-tool-use.bash-dangerous.json");

let cli: SpawnedCli;
let redis: TestRedis;
let port: number;
let dataDir: string;
let url: string;
let browser: OpenedPage;
let page: Page;
let shots: string;
const dirs: string[] = [];
const consoleErrors: string[] = [];

async function rpc<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch(`${url}/rpc`, rpcInit(method, params));
  const body = (await res.json()) as { result?: T; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}

async function show(view: string): Promise<void> {
  await page.getByRole("link", { name: view }).click();
  await page.locator(`section[aria-labelledby="${view.toLowerCase()}-title"]`).waitFor({ state: "visible" });
}

/** Starts `serve` on `port` against the test's redis (again, after a restart). */
async function serve(): Promise<void> {
  const args = ["serve", "--port", String(port), "--data-dir", dataDir, "--redis-url", redis.url];
  cli = runCli([...args, "--no-db", "--log-level", "warn"], { ...process.env, AUTH_TOKEN: TOKEN });
  const started = cli;
  await waitFor(
    () => started.stdout().includes("Press Ctrl-C to stop."),
    `serve to start (${started.stderr()})`,
  );
}

const shot = (name: string) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
const card = (status: string, id: string) =>
  page.locator(`.column[data-status="${status}"] [data-task-id="${id}"]`);
const rpcInit = (method: string, params: Record<string, unknown>): RequestInit => ({
  method: "POST",
  headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
  body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
});

/** The element is drawn entirely within the viewport (not below the fold, not off to a side). */
async function assertInViewport(locator: Locator): Promise<void> {
  const box = await locator.boundingBox();
  const viewport = page.viewportSize();
  assert.ok(box && viewport, "no box");
  assert.ok(
    box.x >= 0 &&
      box.y >= 0 &&
      box.x + box.width <= viewport.width + 1 &&
      box.y + box.height <= viewport.height + 1,
    `${JSON.stringify(box)} is not within ${JSON.stringify(viewport)}`,
  );
}
/**
 * In Firefox Playwright prepares each screenshot by adding `<style>body {}</style>` to the
 * page, which the page's CSP (style-src 'self') refuses with a console error: the harness's,
 * not the page's, told by that style's hash.
 */
const SCREENSHOT_STYLE_HASH = "sha256-YjaKGiklmzC6wjXA513HAMmzus8VE61XCOT+SmwNZWA=";
const recordError = (text: string) => {
  if (!text.includes(SCREENSHOT_STYLE_HASH)) consoleErrors.push(text);
};

for (const testBrowser of BROWSERS)
  describe(`web dashboard (headless ${testBrowser.name})`, () => {
    before(async () => {
      shots = join(OUTPUT, testBrowser.name.toLowerCase());
      mkdirSync(shots, { recursive: true });
      consoleErrors.length = 0;
      redis = await startTestRedis();
      dataDir = mkdtempSync(join(tmpdir(), "cb-dash-"));
      dirs.push(dataDir);
      port = await freePort();
      url = `http://127.0.0.1:${port}`;
      await serve();
      browser = await testBrowser.open(DESKTOP);
      page = browser.page;
      page.on("console", (m) => {
        if (m.type() === "error") recordError(`${m.text()} ${m.location().url}`);
      });
      page.on("pageerror", (err) => recordError(String(err)));
    });

    after(async () => {
      await browser?.close();
      cli?.child.kill("SIGTERM");
      await cli?.exited;
      await redis?.stop();
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    });

    it("asks for the token once, then shows the fleet live and acts on it", async () => {
      await page.goto(url);
      const tokenInput = page.getByRole("textbox", { name: "Token" });
      await tokenInput.waitFor({ state: "visible" });
      await tokenInput.fill(TOKEN);
      await page.getByRole("button", { name: "Connect" }).click();
      await page.locator("#conn", { hasText: "live" }).waitFor();

      // A worker as `claudebench worker` registers it (issue 18, item 15): roles, capabilities,
      // its concurrency as maxTasks, and what it runs in its metadata.
      await rpc("system.register", {
        id: WORKER,
        roles: ["worker"],
        capabilities: ["shell", "python"],
        maxTasks: 3,
        metadata: {
          kind: "worker",
          command: "make test",
          host: "build-box",
          pid: 4242,
          channel: "ci",
          concurrency: 3,
        },
      });

      // A task created through the API appears on the board, with its priority.
      await show("Tasks");
      const created = await rpc<{ id: string }>("task.create", {
        text: "write the release notes",
        priority: 70,
      });
      await card("pending", created.id).waitFor();
      assert.match((await card("pending", created.id).textContent()) ?? "", /70/);

      // The worker claims it: the card moves to "in progress" and names its holder.
      const claim = await rpc<{ taskId: string }>("task.claim", { workerId: WORKER });
      assert.equal(claim.taskId, created.id);
      await card("in_progress", created.id).getByText(`held by ${WORKER}`).waitFor();
      await rpc("task.complete", { id: created.id, workerId: WORKER, result: { pages: 3 } });
      await card("completed", created.id).waitFor();
      await card("completed", created.id).click();
      await page.getByLabel("Task history").getByText("task.completed").waitFor();
      await page.getByLabel("Task detail").getByText(WORKER).first().waitFor();

      // A failed task's card shows its error; another stays held by the worker.
      const broken = await rpc<{ id: string }>("task.create", { text: "flaky build", maxAttempts: 1 });
      await rpc("task.claim", { workerId: WORKER });
      await rpc("task.fail", { id: broken.id, workerId: WORKER, error: "exit 2: tests failed" });
      await card("failed", broken.id).getByText("exit 2: tests failed").waitFor();
      const held = await rpc<{ id: string }>("task.create", { text: "long migration", priority: 90 });
      await rpc("task.claim", { workerId: WORKER });
      await card("in_progress", held.id).waitFor();
      await shot("tasks");

      // Cancelling from the page asks first; then it is cancelled for the API too, and the
      // task's history names the dashboard as the caller (from the audit trail).
      const doomed = await rpc<{ id: string }>("task.create", { text: "obsolete chore" });
      await card("pending", doomed.id).click();
      const detail = page.getByLabel("Task detail");
      await detail.getByRole("heading", { name: `${doomed.id}: obsolete chore` }).waitFor();
      await detail.getByRole("button", { name: "Cancel task" }).click();
      const dialog = page.getByRole("dialog", { name: `Cancel ${doomed.id}?` });
      await dialog.waitFor();
      await shot("tasks-confirm-cancel");
      await dialog.getByRole("button", { name: "Keep it" }).click();
      await dialog.waitFor({ state: "detached" });
      assert.equal((await rpc<{ status: string }>("task.get", { id: doomed.id })).status, "pending");
      await detail.getByRole("button", { name: "Cancel task" }).click();
      await dialog.getByLabel("Reason (optional)").fill("superseded by the new plan");
      await dialog.getByRole("button", { name: "Yes, cancel it" }).click();
      await card("cancelled", doomed.id).waitFor();
      const cancelled = await rpc<{ status: string; error?: string }>("task.get", { id: doomed.id });
      assert.deepEqual([cancelled.status, cancelled.error], ["cancelled", "superseded by the new plan"]);
      await page
        .getByLabel("Task history")
        .getByText(/task\.cancel by dashboard/)
        .waitFor();
      const audit = await rpc<{ records: { method: string; target: string; instanceId: string }[] }>(
        "system.audit",
        { actor: "dashboard", method: "task.cancel" },
      );
      assert.deepEqual(
        audit.records.map((r) => [r.target, r.instanceId]),
        [[doomed.id, "dashboard"]],
      );
      await shot("tasks-detail");
      await page.keyboard.press("Escape");
      await detail.waitFor({ state: "hidden" });

      // A denied pre-tool call shows in the Hooks view with its rule and reason.
      const hook = await fetch(`${url}/hook/claude`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: readFileSync(FIXTURE),
      });
      const answer = (await hook.json()) as { hookSpecificOutput: { permissionDecision: string } };
      assert.equal(answer.hookSpecificOutput.permissionDecision, "deny");
      await show("Hooks");
      const denied = page.locator('tr[data-decision="deny"]');
      await denied.waitFor();
      assert.match((await denied.textContent()) ?? "", /rm-critical/);
      // The rules that decided, as a bar chart drawn by the charting library.
      const rules = page.locator('figure[data-chart="rules"]');
      await rules.locator("canvas").first().waitFor();
      assert.equal(await rules.getAttribute("data-bars"), "1");
      assert.match((await rules.locator(".reading").textContent()) ?? "", /rm-critical: 1/);
      // The rules in force (hook.policy) list the built-in rule that denied it.
      const rule = page
        .getByRole("table", { name: "Active policy rules" })
        .locator('tr[data-rule="rm-critical"]');
      await rule.waitFor();
      assert.match((await rule.textContent()) ?? "", /deny.*builtin.*yes/);
      await page
        .getByRole("table", { name: "Hook chain links" })
        .locator('tr[data-link="builtin.policy"]')
        .waitFor();
      await shot("hooks");

      // Instances: the worker and the Claude Code session, told apart, with what they hold.
      await show("Instances");
      const worker = page.locator(`article[data-instance-id="${WORKER}"]`);
      await worker.waitFor();
      assert.equal(await worker.getAttribute("data-kind"), "worker");
      const workerText = (await worker.textContent()) ?? "";
      for (const expected of ["shell, python", "1 of 3", "make test", "build-box · pid 4242", "ci", held.id])
        assert.ok(workerText.includes(expected), `${expected} in ${workerText}`);
      assert.match(workerText, /Last heartbeat\d+ s ago/);
      const session = page.locator('article[data-kind="session"]');
      await session.waitFor();
      assert.match((await session.textContent()) ?? "", /claude-code.*\/home\/dev\/webapp/s);
      await shot("instances");

      // Events: one line each, as `claudebench relay` prints them; the JSON on a click.
      await show("Events");
      const line = page.locator(`li[data-event="task.cancelled"]`).first();
      await line.waitFor();
      const button = line.getByRole("button");
      assert.match(
        (await button.textContent()) ?? "",
        new RegExp(`task\\.cancelled.*${doomed.id} cancelled`),
      );
      assert.equal(await line.locator("pre").isVisible(), false);
      await button.click();
      await line.locator("pre", { hasText: '"event": "task.cancelled"' }).waitFor();
      assert.equal(await button.getAttribute("aria-expanded"), "true");
      await shot("events");

      // Metrics: charts with axes over time, errors by code as bars, per-method figures.
      assert.equal((await fetch(`${url}/rpc`, rpcInit("task.create", { text: "" }))).status, 200);
      await show("Metrics");
      const metrics = page.locator('section[aria-labelledby="metrics-title"]');
      const chart = (id: string) => metrics.locator(`figure[data-chart="${id}"]`);
      for (const id of ["calls", "latency", "queue", "finished", "workers"])
        await chart(id).locator("canvas").first().waitFor({ timeout: 15_000 });
      // The poll every 5 s brings the error in.
      await metrics
        .locator('figure[data-chart="errors-by-code"][data-bars="1"]')
        .waitFor({ timeout: 15_000 });
      assert.match((await chart("errors-by-code").locator(".reading").textContent()) ?? "", /VALIDATION: 1/);
      assert.match(
        (await chart("workers").locator(".reading").textContent()) ?? "",
        new RegExp(`${WORKER} 1 / 3`),
      );
      assert.match(
        (await chart("finished").locator(".reading").textContent()) ?? "",
        /1 completed, 1 failed/,
      );
      await metrics.locator('tr[data-method="task.create"]').waitFor();
      await shot("metrics");
      await show("Overview");
      await page
        .getByRole("region", { name: /Last 5 minutes/ })
        .getByText("p99, all methods")
        .waitFor();
      await shot("overview");

      assert.deepEqual(consoleErrors, []);
    });

    it("applies every filter to the board, and shows more than 25 cards of a column on demand", async () => {
      await show("Tasks");
      const ids: string[] = [];
      for (let i = 0; i < 30; i++)
        ids.push((await rpc<{ id: string }>("task.create", { text: `bulk job ${i}`, priority: 10 })).id);
      const filters = page.getByRole("search", { name: "Filter tasks" });
      await filters.getByLabel("Text").fill("bulk job");
      const pending = page.locator('.column[data-status="pending"]');
      await pending.locator(".task-card").nth(24).waitFor();
      assert.equal(await pending.locator(".task-card").count(), 25);
      const more = pending.getByRole("button", { name: "Show 5 more (5 not shown)" });
      await more.click();
      await card("pending", ids[29] as string).waitFor();
      assert.equal(await pending.locator(".task-card").count(), 30);
      assert.equal(await more.isVisible(), false);

      // The detail opens in view wherever the card was: here at the foot of a long column.
      const last = card("pending", ids[29] as string);
      await last.scrollIntoViewIfNeeded();
      await last.click();
      const detail = page.locator("#detail");
      await detail.getByRole("heading", { name: `${ids[29]}: bulk job 29` }).waitFor();
      await assertInViewport(detail);
      await shot("tasks-long-column");

      // The status filter applies to the board too: the other columns empty.
      await filters.getByLabel("Status").selectOption("in_progress");
      await pending.locator(".task-card").first().waitFor({ state: "detached" });
      assert.equal(await page.locator('.column[data-status="completed"] .task-card').count(), 0);
      await filters.getByLabel("Status").selectOption("");
      await filters.getByLabel("Text").fill("");
      await page.keyboard.press("Escape");
    });

    it("needs no sideways scrolling on a 390 px wide phone, in any view", async () => {
      await page.setViewportSize(PHONE);
      try {
        for (const view of ["Overview", "Tasks", "Instances", "Hooks", "Events", "Metrics"]) {
          await show(view);
          if (view === "Overview" || view === "Metrics")
            await page.locator("section:not([hidden]) figure.chart canvas").first().waitFor();
          const width = await page.evaluate(() => document.documentElement.scrollWidth);
          assert.ok(width <= PHONE.width, `${view}: the page is ${width} px wide`);
          await shot(`${view.toLowerCase()}-phone`);
        }
        // A task's detail on the phone: the whole width, in view.
        await show("Tasks");
        await page.locator(".task-card").first().click();
        const detail = page.locator("#detail");
        await detail.locator("h2").waitFor();
        await assertInViewport(detail);
        assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= PHONE.width);
        await shot("tasks-detail-phone");
        await detail.getByRole("button", { name: "Close" }).click();
        await detail.waitFor({ state: "hidden" });
      } finally {
        await page.setViewportSize(DESKTOP);
      }
    });

    it("keeps a table row's element and focus through live updates, and Enter selects it", async () => {
      await show("Tasks");
      const watched = await rpc<{ id: string }>("task.create", { text: "keyboard target" });
      const row = page.locator(`.scroller [data-task-id="${watched.id}"]`);
      await row.focus();
      // Marks the element itself: a row rebuilt by a redraw would come back without the mark.
      await row.evaluate((el) => {
        (el as HTMLElement).dataset.probe = "same element";
      });
      for (let i = 0; i < 5; i++) await rpc("task.create", { text: `live noise ${i}` });
      await page.locator(".scroller [data-task-id]", { hasText: "live noise 4" }).waitFor();
      assert.equal(await row.getAttribute("data-probe"), "same element");
      assert.equal(
        await page.evaluate(() => document.activeElement?.getAttribute("data-task-id")),
        watched.id,
      );
      await page.keyboard.press("Enter");
      await page
        .getByLabel("Task detail")
        .getByRole("heading", { name: `${watched.id}: keyboard target` })
        .waitFor();
    });

    it("keeps the detail's buttons through live updates of the selected task, so a slow click lands", async () => {
      await show("Tasks");
      const busy = await rpc<{ id: string }>("task.create", { text: "busy target", priority: 50 });
      await page.locator(`.scroller [data-task-id="${busy.id}"]`).click();
      const detail = page.getByLabel("Task detail");
      await detail.getByRole("heading", { name: `${busy.id}: busy target` }).waitFor();
      const cancel = detail.getByRole("button", { name: "Cancel task" });
      await cancel.scrollIntoViewIfNeeded();
      // Keeps the button element itself: a button rebuilt by a redraw would not be this one.
      await cancel.evaluate((el) => {
        (window as unknown as { probe: Element }).probe = el;
      });
      const box = await cancel.boundingBox();
      assert.ok(box);
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);

      // A person's click: the press, then the release ~100 ms later. In between the task
      // changes again and again (priorities 0-49, never its 50), each change redrawing the panel.
      await page.mouse.down();
      let live = true;
      const updates = (async () => {
        let priority = 0;
        for (let i = 0; live; i++) {
          priority = i % 50;
          await rpc("task.update", { id: busy.id, updates: { priority } });
        }
        return priority;
      })();
      await sleep(100);
      live = false;
      const last = await updates;
      // The panel has shown the changes (redrawn) before the button is released.
      await detail.locator("dd", { hasText: new RegExp(`^${last}$`) }).waitFor();
      await page.mouse.up();

      assert.equal(
        await cancel.evaluate((el) => el === (window as unknown as { probe: Element }).probe),
        true,
      );
      // The click landed: the page asks for confirmation.
      await page.getByRole("dialog").getByRole("button", { name: "Yes, cancel it" }).click();
      await page.locator(`.column[data-status="cancelled"] [data-task-id="${busy.id}"]`).waitFor();
      assert.equal((await rpc<{ status: string }>("task.get", { id: busy.id })).status, "cancelled");
    });

    it("reconnects by itself after a server restart, keeping its view, filter and selection", async () => {
      await show("Tasks");
      const filterText = page.getByRole("search", { name: "Filter tasks" }).getByLabel("Text");
      await filterText.fill("survivor");
      const row = (id: string) => page.locator(`.scroller [data-task-id="${id}"]`);
      const first = await rpc<{ id: string }>("task.create", { text: "survivor one" });
      await rpc("task.create", { text: "unrelated chore" });
      await row(first.id).click();
      const detail = page.getByLabel("Task detail");
      await detail.getByRole("heading", { name: `${first.id}: survivor one` }).waitFor();

      // The server dies without a goodbye; the page notices.
      const before = consoleErrors.length;
      cli.child.kill("SIGKILL");
      await cli.exited;
      await page.locator("#conn", { hasNotText: "live" }).waitFor();

      // Back on the same port and the same Redis: live again by itself, and it shows new tasks.
      await serve();
      await page.locator("#conn", { hasText: "live" }).waitFor({ timeout: 30_000 });
      const second = await rpc<{ id: string }>("task.create", { text: "survivor two" });
      await row(second.id).waitFor({ timeout: 15_000 });

      // Same place: the view, the filter (only the survivors listed) and the selected task.
      assert.equal(new URL(page.url()).hash, "#tasks");
      assert.equal(await filterText.inputValue(), "survivor");
      await page.locator(".scroller [data-task-id]").nth(1).waitFor();
      assert.deepEqual(
        (await page.locator(".scroller [data-task-id]").evaluateAll((rows) => rows.map((r) => r.textContent)))
          .map((t) => /survivor (one|two)/.exec(t ?? "")?.[0])
          .sort(),
        ["survivor one", "survivor two"],
      );
      await detail.getByRole("heading", { name: `${first.id}: survivor one` }).waitFor();
      assert.equal(await row(first.id).getAttribute("aria-selected"), "true");
      await shot("tasks-after-restart");

      // While the server was away the browser logged refused connections, and nothing else.
      const outage = consoleErrors.splice(before);
      assert.deepEqual(
        outage.filter((e) => !REFUSED.test(e)),
        [],
      );
    });
  });
