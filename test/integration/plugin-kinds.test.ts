import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { call, until } from "../helpers/cluster.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";
import { post, startTestServer } from "../helpers/server.js";

/**
 * Hook links and subscriptions from plugin files, as a user installs them: the example files
 * of examples/plugins copied into a watched plugin directory, exercised through Claude Code's
 * own hook payloads and the task API, then removed while the server runs.
 */

const EXAMPLES = join(import.meta.dirname, "../../examples/plugins");
const FIXTURES = join(import.meta.dirname, "../fixtures/claude-hooks");
const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), "utf8"));
const MASTER = "0a9d7c1e-master-session";

interface Discover {
  plugins: { files: { file: string; extensions: { kind: string; name: string }[] }[] };
}

const extensions = async (url: string) =>
  (await call<Discover>(url, "system.discover")).plugins.files.flatMap((f) =>
    f.extensions.map((e) => `${e.kind} ${e.name}`),
  );

describe("plugin hook links and subscriptions (examples/plugins)", () => {
  let redis: TestRedis;
  let dir: string;
  let server: Awaited<ReturnType<typeof startTestServer>>;

  before(async () => {
    redis = await startTestRedis();
    dir = mkdtempSync(join(tmpdir(), "cb-plugin-kinds-"));
    for (const file of ["no-publish.ts", "completion-notes.ts"])
      copyFileSync(join(EXAMPLES, file), join(dir, file));
    server = await startTestServer({
      redisUrl: redis.url,
      overrides: { pluginsDir: dir, pluginsDirRequired: true, watchPlugins: true },
    });
  });
  after(async () => {
    await server?.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const preTool = (command: string) =>
    post(server.url, "/hook/claude", {
      ...fixture("pre-tool-use.bash-safe"),
      tool_input: { command, description: "test" },
    });

  it("loads the example link and subscription and reports them", async () => {
    assert.deepEqual((await extensions(server.url)).sort(), [
      "hook-link pre_tool:example.no_publish",
      "subscription example-completion-notes",
    ]);
  });

  it("runs the plugin's link in the pre-tool chain", async () => {
    const denied = await preTool("npm publish --access public");
    assert.equal(denied.status, 200);
    const output = denied.body.hookSpecificOutput as Record<string, string>;
    assert.equal(output.permissionDecision, "deny");
    assert.match(output.permissionDecisionReason ?? "", /no-publish/);
    assert.equal((await preTool("npm test")).body.hookSpecificOutput?.permissionDecision, undefined);
  });

  it("delivers task completions to the plugin's subscription", async () => {
    await post(server.url, "/hook/claude", { ...fixture("session-start"), session_id: MASTER });
    await call(server.url, "session.set_role", { sessionId: MASTER, role: "master" });
    const { id } = await call<{ id: string }>(server.url, "task.create", {
      text: "ship it",
      channel: "webapp",
    });
    await call(server.url, "task.claim", { workerId: "w-1" });
    await call(server.url, "task.complete", { id, workerId: "w-1" });
    const messages = await until(async () => {
      const { messages } = await call<{ messages: { kind: string; text: string }[] }>(
        server.url,
        "session.inbox",
        {
          sessionId: MASTER,
        },
      );
      return messages.length > 0 && messages;
    }, "the completion note in the master's inbox");
    assert.deepEqual(
      messages.map((m) => [m.kind, m.text]),
      [["task-completed", `Task ${id} is done: ship it`]],
    );
  });

  it("takes the link and the subscription away when their files are removed", async () => {
    unlinkSync(join(dir, "no-publish.ts"));
    unlinkSync(join(dir, "completion-notes.ts"));
    await until(async () => (await extensions(server.url)).length === 0, "the plugins to be unloaded");
    const allowed = await preTool("npm publish --access public");
    assert.notEqual(allowed.body.hookSpecificOutput?.permissionDecision, "deny");
    const { subscriptions } = await call<{ subscriptions: { name: string }[] }>(
      server.url,
      "system.subscriptions",
    );
    assert.deepEqual(
      subscriptions.map((s) => s.name),
      [],
    );
  });
});
