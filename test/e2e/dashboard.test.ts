import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Page } from "playwright-core";
import { BROWSERS, type OpenedPage } from "../helpers/browsers.js";
import { freePort, runCli, type SpawnedCli, waitFor } from "../helpers/cli.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";

/**
 * The dashboard in real headless Chromium and Firefox (Debian's packages, driven by
 * playwright-core, see helpers/browsers.ts) against `claudebench serve` with a token: what a
 * person sees as the fleet works. Run `npm run build` first (the test serves the built
 * bundle). Screenshots of each view go to test-output/dashboard/<browser>/. The server uses a
 * private redis-server of the test's own, so a restarted server finds the same state (the
 * page must carry on from where it was).
 */

const TOKEN = "dashboard-e2e-token";
/** How Chromium and Firefox log a connection the stopped server refused. */
const REFUSED =
  /ERR_CONNECTION_REFUSED|WebSocket connection to .* failed|can’t establish a connection to the server at/;
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
  const res = await fetch(`${url}/rpc`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
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
      browser = await testBrowser.open({ width: 1400, height: 1000 });
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
      await shot("overview");

      // A task created through the API appears on the board.
      await show("Tasks");
      const created = await rpc<{ id: string }>("task.create", {
        text: "write the release notes",
        priority: 70,
      });
      const card = (status: string, id: string) =>
        page.locator(`.column[data-status="${status}"] [data-task-id="${id}"]`);
      await card("pending", created.id).waitFor();

      // A worker claims and completes it: the card moves to "completed".
      await rpc("system.register", { id: "w-e2e", roles: ["worker"] });
      const claim = await rpc<{ taskId: string }>("task.claim", { workerId: "w-e2e" });
      assert.equal(claim.taskId, created.id);
      await card("in_progress", created.id).waitFor();
      await rpc("task.complete", { id: created.id, workerId: "w-e2e", result: { pages: 3 } });
      await card("completed", created.id).waitFor();
      await card("completed", created.id).click();
      await page.getByLabel("Task history").getByText("task.completed").waitFor();
      await page.getByLabel("Task detail").getByText("w-e2e").first().waitFor();
      await shot("tasks");

      // A task cancelled from the page is cancelled for the API too.
      const doomed = await rpc<{ id: string }>("task.create", { text: "obsolete chore" });
      await card("pending", doomed.id).click();
      await page.getByRole("button", { name: "Cancel task" }).click();
      await card("cancelled", doomed.id).waitFor();
      const after = await rpc<{ status: string }>("task.get", { id: doomed.id });
      assert.equal(after.status, "cancelled");

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

      await show("Instances");
      await page.locator('tr[data-instance-id="w-e2e"]').waitFor();
      await shot("instances");
      await show("Events");
      await page
        .locator('section[aria-labelledby="events-title"]')
        .getByRole("cell", { name: "task.cancelled", exact: true })
        .waitFor();
      await shot("events");
      await show("Metrics");
      await page.getByRole("cell", { name: "task.create" }).waitFor({ timeout: 15_000 });
      await shot("metrics");
      await show("Overview");
      await shot("overview-after");

      assert.deepEqual(consoleErrors, []);
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
