import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Task } from "../../src/contract/tasks.js";
import { type BridgeRun, bridgeInstanceName, runBridge } from "../helpers/original-bridge.js";
import { projectDir, removeProjectDirs } from "../helpers/project.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";
import { post, rpc, startTestServer } from "../helpers/server.js";

/**
 * The original ClaudeBench's hook bridge, unchanged, against this server: each Claude Code
 * payload becomes the JSON-RPC call the bridge makes (test/helpers/original-bridge.ts), and the
 * test asserts what the bridge acts on in the answer — its exit code (2 blocks) and what it
 * prints — and the state the session leaves behind.
 */

type Payload = Record<string, unknown>;
const FIXTURES = join(import.meta.dirname, "../fixtures/claude-hooks");
const fixture = (name: string): Payload => JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), "utf8"));

const SESSION = "6f1c2a9e-3b7d-4e21-9c55-0d8a4b2f7e10";
const SESSION_INSTANCE = `cc-${SESSION}`;

let redis: TestRedis;
let server: Awaited<ReturnType<typeof startTestServer>>;
before(async () => {
  redis = await startTestRedis();
  server = await startTestServer({ redisUrl: redis.url });
});
after(async () => {
  await server?.close();
  await redis?.stop();
  removeProjectDirs();
});

async function call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
  const { body } = await rpc(server.url, { jsonrpc: "2.0", id: 1, method, params });
  if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result as T;
}

const tasksOf = async (channel: string) =>
  new Map((await call<{ tasks: Task[] }>("task.list", { channel, limit: 50 })).tasks.map((t) => [t.text, t]));

const claudeCodeInstances = async () =>
  (
    await call<{ instances: { id: string; status: string }[] }>("system.instances", { role: "claude-code" })
  ).instances.map((i) => [i.id, i.status]);

/** A fixture as Claude Code would send it from the session `session` working in `cwd`. */
const from = (session: string, cwd: string, payload: Payload): Payload => ({
  ...payload,
  session_id: session,
  cwd,
  transcript_path: `/home/dev/.claude/projects/p/${session}.jsonl`,
});

describe("the original hook bridge: one session from SessionStart to SessionEnd", () => {
  it("every call answers what the bridge acts on: blocks hold, notifications pass, SessionEnd releases the session's tasks", async () => {
    const dir = projectDir({
      prompt: [{ id: "no-prod", match: "production password", decision: "block", reason: "never paste it" }],
    });
    const channel = dir.split("/").pop() as string;
    const env = { projectDir: dir };
    const bridge = (payload: Payload) => runBridge(`${server.url}/rpc`, from(SESSION, dir, payload), env);
    const todoWrite = (todos: { content: string; status: string; activeForm: string }[]) => ({
      ...fixture("post-tool-use.todo-write"),
      tool_input: { todos },
      tool_response: { oldTodos: [], newTodos: todos },
    });
    const todos = (fixture("post-tool-use.todo-write").tool_input as { todos: Payload[] }).todos as {
      content: string;
      status: string;
      activeForm: string;
    }[];
    const runs: BridgeRun[] = [];
    const step = async (payload: Payload) => {
      const run = await bridge(payload);
      runs.push(run);
      assert.equal(run.reply.error, undefined, `${run.method}: ${JSON.stringify(run.reply.error)}`);
      return run;
    };

    // 1. SessionStart: the bridge registers claude-code-6f1c2a9e; the session is one instance, cc-<id>.
    const start = await step(fixture("session-start"));
    assert.equal(start.method, "system.register");
    assert.equal(start.params.id, bridgeInstanceName(SESSION));
    assert.equal(start.exit, 0);
    assert.equal((start.reply.result as { instanceId: string }).instanceId, SESSION_INSTANCE);
    assert.deepEqual(await claudeCodeInstances(), [[SESSION_INSTANCE, "active"]]);

    // 2-4. Prompts: plain (nothing), a secret (warned), one a project rule blocks (exit 2 holds it).
    assert.deepEqual((await step(fixture("user-prompt-submit.plain"))).exit, 0);
    const secret = await step(fixture("user-prompt-submit.secret"));
    assert.equal(secret.exit, 0);
    assert.match(String(secret.printed?.modified), /AWS access key/);
    const blocked = await step({
      ...fixture("user-prompt-submit.plain"),
      prompt: "here is the production password: hunter2",
    });
    assert.deepEqual(
      { exit: blocked.exit, printed: blocked.printed },
      { exit: 2, printed: { blocked: true, reason: "never paste it" } },
    );

    // 5-8. Tool calls: allowed; denied (exit 2); sudo dropped (printed as modified); a secret file denied.
    assert.equal((await step(fixture("pre-tool-use.bash-safe"))).exit, 0);
    const dangerous = await step(fixture("pre-tool-use.bash-dangerous"));
    assert.equal(dangerous.exit, 2);
    assert.match(String(dangerous.printed?.reason), /rm -r on \//);
    const sudo = await step(fixture("pre-tool-use.bash-sudo"));
    assert.equal(sudo.exit, 0);
    assert.deepEqual(sudo.printed?.modified, {
      command: "npm install -g typescript",
      description: "Install TypeScript globally",
    });
    const env_ = await step({
      ...fixture("pre-tool-use.write-env"),
      tool_input: { file_path: `${dir}/.env` },
    });
    assert.equal(env_.exit, 2);

    // 9. TodoWrite: three todos become tasks; the summary says so.
    const first = await step(todoWrite(todos));
    assert.equal(first.method, "hook.todo_write");
    assert.deepEqual(first.printed, {
      processed: true,
      summary: {
        total: 3,
        pending: 1,
        in_progress: 1,
        completed: 1,
        added: 3,
        removed: 0,
        statusChanged: 0,
        conflicts: 0,
      },
    });
    const held = (await tasksOf(channel)).get("Raise the session TTL to one hour");
    assert.equal(held?.status, "in_progress");
    assert.equal(held?.assignedTo, SESSION_INSTANCE, "the session's instance holds its todo");

    // 10. The next TodoWrite: one todo finished, the next one started.
    const second = await step(
      todoWrite([
        { ...todos[0], status: "completed" },
        { ...todos[1], status: "completed" },
        { ...todos[2], status: "in_progress" },
      ] as typeof todos),
    );
    assert.deepEqual(second.printed?.summary, {
      total: 3,
      pending: 0,
      in_progress: 1,
      completed: 2,
      added: 0,
      removed: 0,
      statusChanged: 2,
      conflicts: 0,
    });

    // 11. A tool ran while another session left this one a message: the bridge passes it on.
    await call("session.notify", { to: SESSION, text: "the API is frozen until Friday" });
    const ran = await step({
      ...fixture("pre-tool-use.bash-safe"),
      hook_event_name: "PostToolUse",
      tool_response: { stdout: "42 passing", stderr: "", interrupted: false },
    });
    assert.equal(ran.method, "hook.post_tool");
    assert.deepEqual(ran.printed, {
      processed: true,
      notifications: ["1 message(s) for this session wait in its inbox (session.inbox)"],
    });

    // 12-16. Events with side effects only: accepted, never an error (exit 1).
    const failure = await step(fixture("post-tool-use-failure.bash"));
    assert.equal(failure.method, "hook.posttoolusefailure");
    for (const type of ["permission_prompt", "idle_prompt"]) {
      const note = await step({ ...fixture("notification"), notification_type: type });
      assert.equal(note.exit, 0, type);
    }
    assert.equal((await step(fixture("pre-compact"))).exit, 0);
    assert.equal((await step(fixture("subagent-stop"))).exit, 0);
    assert.equal((await step(fixture("stop"))).exit, 0);

    // 17. SessionEnd: system.unregister claude-code-6f1c2a9e releases what the session held.
    const end = await step(fixture("session-end"));
    assert.equal(end.method, "system.unregister");
    assert.deepEqual(end.reply.result, { unregistered: true, tasksReassigned: 1 });
    const after = await tasksOf(channel);
    assert.equal(after.get("Add a regression test for session expiry")?.status, "pending");
    assert.equal(after.get("Raise the session TTL to one hour")?.status, "completed");
    assert.deepEqual(await claudeCodeInstances(), [[SESSION_INSTANCE, "unregistered"]]);

    assert.equal(runs.length, 18);
    assert.deepEqual(
      runs.map((r) => r.exit),
      [0, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    );
  });
});

describe("one session, one identity, whichever path it came by", () => {
  const todo = (content: string, status: string) => ({ content, status, activeForm: content });

  it("todos held through POST /hook/claude are released by the bridge's SessionEnd (system.unregister claude-code-…)", async () => {
    const session = "a1b2c3d4-0000-4000-8000-000000000001";
    const dir = projectDir();
    const channel = dir.split("/").pop() as string;
    const hook = (payload: Payload) => post(server.url, "/hook/claude", from(session, dir, payload));
    await hook(fixture("session-start"));
    await hook({
      ...fixture("post-tool-use.todo-write"),
      tool_input: { todos: [todo("Ship it", "in_progress")] },
    });
    assert.equal((await tasksOf(channel)).get("Ship it")?.assignedTo, `cc-${session}`);

    const end = await runBridge(`${server.url}/rpc`, from(session, dir, fixture("session-end")), {
      projectDir: dir,
    });
    assert.deepEqual(end.reply.result, { unregistered: true, tasksReassigned: 1 });
    assert.equal((await tasksOf(channel)).get("Ship it")?.status, "pending");
  });

  it("todos held through the bridge (hook.todo_write) are released by POST /hook/claude's SessionEnd", async () => {
    const session = "b1b2c3d4-0000-4000-8000-000000000002";
    const dir = projectDir();
    const env = { projectDir: dir };
    const bridge = (payload: Payload) => runBridge(`${server.url}/rpc`, from(session, dir, payload), env);
    await bridge(fixture("session-start"));
    await bridge({
      ...fixture("post-tool-use.todo-write"),
      tool_input: { todos: [todo("Fix it", "in_progress")] },
    });
    // The bridge sends no cwd with hook.todo_write: the project is the one it registered with.
    const { tasks } = await call<{ tasks: Task[] }>("task.list", { assignedTo: `cc-${session}` });
    assert.deepEqual(
      tasks.map((t) => [t.text, t.status, t.channel]),
      [["Fix it", "in_progress", dir.split("/").pop()]],
    );

    const res = await post(server.url, "/hook/claude", from(session, dir, fixture("session-end")));
    assert.equal(res.status, 200);
    assert.equal((await call<Task>("task.get", { id: tasks[0]?.id })).status, "pending");
  });

  it("the bridge's name keeps the session alive without its id (system.heartbeat), and names no instance of its own", async () => {
    const session = "c1b2c3d4-0000-4000-8000-000000000003";
    const dir = projectDir();
    await post(server.url, "/hook/claude", from(session, dir, fixture("session-start")));
    const name = bridgeInstanceName(session);
    const beat = await call<{ alive: boolean }>("system.heartbeat", { instanceId: name, status: "thinking" });
    assert.equal(beat.alive, true);
    const instance = (
      await call<{ instances: { id: string; statusText?: string }[] }>("system.instances", {
        role: "claude-code",
      })
    ).instances.find((i) => i.id === `cc-${session}`);
    assert.equal(instance?.statusText, "thinking", "the heartbeat reached the session's instance");
    assert.equal(
      (await call<{ tasksReassigned: number }>("system.unregister", { instanceId: name })).tasksReassigned,
      0,
    );
    assert.deepEqual(
      (await claudeCodeInstances()).filter(([id]) => String(id).includes(session.slice(0, 8))),
      [[`cc-${session}`, "unregistered"]],
    );
  });

  it("a name that is not the bridge's for the session stays an instance of its own", async () => {
    const registered = await call<{ instanceId: string }>("system.register", {
      id: "claude-code-elsewhere",
      roles: ["worker"],
      sessionId: "d1b2c3d4-0000-4000-8000-000000000004",
    });
    assert.equal(registered.instanceId, "claude-code-elsewhere");
    assert.equal(
      (await call<{ alive: boolean }>("system.heartbeat", { instanceId: "claude-code-elsewhere" })).alive,
      true,
    );
  });
});

describe("hook.notification", () => {
  it("accepts Claude Code's notification types, the original's levels and a newer type; refuses a malformed type", async () => {
    const types = [
      "permission_prompt",
      "idle_prompt",
      "auth_success",
      "elicitation_dialog",
      "elicitation_complete",
      "elicitation_response",
      "info",
      "warning",
      "error",
      "success",
      "some_future_type",
    ];
    for (const type of types) {
      const answer = await call<{ received: boolean }>("hook.notification", {
        message: "Claude needs your permission to use Bash",
        type,
        sessionId: SESSION,
        instanceId: bridgeInstanceName(SESSION),
        timestamp: Date.now(),
      });
      assert.equal(answer.received, true, type);
    }
    for (const type of ["", "x".repeat(65), "two words", 5]) {
      const { body } = await rpc(server.url, {
        jsonrpc: "2.0",
        id: 1,
        method: "hook.notification",
        params: { message: "m", type },
      });
      assert.equal(body.error?.code, -32602, JSON.stringify(type));
    }
  });
});
