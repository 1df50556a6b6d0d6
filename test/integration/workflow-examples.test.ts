import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Task } from "../../src/contract/tasks.js";
import { call, until } from "../helpers/cluster.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";
import { post, startTestServer } from "../helpers/server.js";

/**
 * The three workflows shipped in examples/workflows, end to end: Claude Code's own hook
 * payloads (test/fixtures/claude-hooks) posted to /hook/claude as the hook bridge does, the
 * events they cause, the workflows' calls, and what the sessions see.
 */

const FIXTURES = join(import.meta.dirname, "../fixtures/claude-hooks");
const EXAMPLES = join(import.meta.dirname, "../../examples/workflows");
type Payload = Record<string, unknown>;
const fixture = (name: string): Payload => JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), "utf8"));

const MEMBER = "6f1c2a9e-3b7d-4e21-9c55-0d8a4b2f7e10"; // the fixtures' session
const MASTER = "0a9d7c1e-master-session";

let redis: TestRedis;
before(async () => {
  redis = await startTestRedis();
});
after(async () => {
  await redis.stop();
});

const hook = async (url: string, payload: Payload) => {
  const res = await post(url, "/hook/claude", payload);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body as Record<string, unknown>;
};

interface Summary {
  name: string;
  lag: number;
  pending: number;
  deadLetters: number;
}

/** Every workflow has read and finished every event so far. */
const settled = (url: string) =>
  until(async () => {
    const { subscriptions } = await call<{ subscriptions: Summary[] }>(url, "system.subscriptions");
    return subscriptions.every((s) => s.lag === 0 && s.pending === 0) && subscriptions;
  }, "the workflows to settle");

interface Message {
  from: string | null;
  kind: string;
  text: string;
  data?: unknown;
}

const inbox = async (url: string, sessionId: string) =>
  (await call<{ messages: Message[] }>(url, "session.inbox", { sessionId })).messages;

describe("the shipped workflows (examples/workflows) through Claude Code's hook payloads", () => {
  it("loads all three", async () => {
    const server = await startTestServer({ redisUrl: redis.url, overrides: { workflowsDir: EXAMPLES } });
    try {
      const { subscriptions } = await call<{ subscriptions: Summary[] }>(server.url, "system.subscriptions");
      assert.deepEqual(
        subscriptions.map((s) => s.name),
        ["dead-letter-to-master", "deny-to-task", "todo-to-master"],
      );
    } finally {
      await server.close();
    }
  });

  it("todo-to-master, deny-to-task, dead-letter-to-master: a member's todos and a dead-lettered task reach the master's next prompt; a denial lands on the member's task", async () => {
    const server = await startTestServer({ redisUrl: redis.url, overrides: { workflowsDir: EXAMPLES } });
    const { url } = server;
    try {
      // Two sessions in /home/dev/webapp (project "webapp"); one of them is made its master.
      await hook(url, { ...fixture("session-start"), session_id: MASTER });
      await hook(url, fixture("session-start"));
      assert.deepEqual(await call(url, "session.set_role", { sessionId: MASTER, role: "master" }), {
        project: "webapp",
        role: "master",
        previousMaster: null,
      });

      // (a) The master's own TodoWrite is not reported to itself; the member's is.
      await hook(url, {
        ...fixture("post-tool-use.todo-write"),
        session_id: MASTER,
        tool_input: { todos: [{ content: "Review the member's work", status: "in_progress" }] },
      });
      await settled(url);
      assert.deepEqual(await inbox(url, MASTER), []);
      await hook(url, fixture("post-tool-use.todo-write"));
      const [todos] = await until(async () => {
        const messages = await inbox(url, MASTER);
        return messages.length > 0 && messages;
      }, "the member's todo update in the master's inbox");
      assert.equal(todos?.kind, "todos");
      assert.equal(todos?.from, MEMBER);
      assert.equal(
        todos?.text,
        `Session ${MEMBER} updated its todo list (3): [completed] Reproduce the login timeout; [in_progress] Raise the session TTL to one hour; [pending] Add a regression test for session expiry`,
      );
      assert.deepEqual(todos?.data, [
        { content: "Reproduce the login timeout", status: "completed" },
        { content: "Raise the session TTL to one hour", status: "in_progress" },
        { content: "Add a regression test for session expiry", status: "pending" },
      ]);

      // (c) The member's dangerous command is denied; the denial is recorded on its todo in progress.
      const denied = await hook(url, fixture("pre-tool-use.bash-dangerous"));
      assert.equal((denied.hookSpecificOutput as Payload).permissionDecision, "deny");
      const { tasks } = await call<{ tasks: Task[] }>(url, "task.list", { channel: "webapp", limit: 50 });
      const working = tasks.find((t) => t.text === "Raise the session TTL to one hour");
      assert.ok(working);
      const noted = await until(async () => {
        const task = await call<Task>(url, "task.get", { id: working.id });
        const entry = Object.entries(task.metadata).find(([key]) => key.startsWith("denied:"));
        return entry;
      }, "the denial on the member's task");
      assert.match(noted[0], /^denied:\d+-\d+$/);
      const { at, ...denial } = noted[1] as Record<string, unknown>;
      assert.deepEqual(denial, {
        tool: "Bash",
        call: "rm -rf /",
        rule: "rm-critical",
        reason: "rm -r on /: deletes the system, a home directory or one holding the project",
      });
      assert.equal(typeof at, "number");
      // Only the task in progress: the pending and completed todos are not the session's now.
      for (const other of tasks.filter((t) => t.id !== working.id && t.metadata.sessionId === MEMBER)) {
        const task = await call<Task>(url, "task.get", { id: other.id });
        assert.ok(!Object.keys(task.metadata).some((k) => k.startsWith("denied:")), other.text);
      }

      // (b) A task of the project fails for good: the master hears of it.
      const task = await call<Task>(url, "task.create", {
        text: "Deploy the preview",
        channel: "webapp",
        maxAttempts: 1,
      });
      await call(url, "task.assign", { taskId: task.id, instanceId: "worker-1" });
      await call(url, "task.fail", {
        id: task.id,
        workerId: "worker-1",
        error: "preview cluster unreachable",
      });
      const messages = await until(async () => {
        const all = await inbox(url, MASTER);
        return all.length === 2 && all;
      }, "the dead-lettered task in the master's inbox");
      assert.equal(messages[1]?.kind, "task.dead_lettered");
      assert.equal(
        messages[1]?.text,
        `Task ${task.id} "Deploy the preview" failed for good after 1 attempt(s): preview cluster unreachable`,
      );

      // The master's next prompt carries both messages to its model, and empties the inbox.
      const answer = await hook(url, { ...fixture("user-prompt-submit.plain"), session_id: MASTER });
      const context = (answer.hookSpecificOutput as Payload).additionalContext as string;
      const lines = context.split("\n");
      assert.equal(lines[0], "ClaudeBench messages for this session:");
      assert.match(
        lines[1] ?? "",
        new RegExp(`^- \\[todos from session ${MEMBER}, [^\\]]+\\] Session ${MEMBER} updated`),
      );
      assert.match(
        lines[2] ?? "",
        /^- \[task\.dead_lettered, [^\]]+\] Task t-\d+ "Deploy the preview" failed for good/,
      );
      assert.deepEqual(await inbox(url, MASTER), []);
      assert.deepEqual(await hook(url, { ...fixture("user-prompt-submit.plain"), session_id: MASTER }), {});
      // The member's prompt sees nothing of it.
      assert.deepEqual(await hook(url, fixture("user-prompt-submit.plain")), {});

      const subscriptions = await settled(url);
      assert.deepEqual(
        subscriptions.map((s) => [s.name, s.deadLetters]),
        [
          ["dead-letter-to-master", 0],
          ["deny-to-task", 0],
          ["todo-to-master", 0],
        ],
      );
    } finally {
      await server.close();
    }
  });

  it("without a master, nothing is delivered and nothing is dead-lettered", async () => {
    const server = await startTestServer({ redisUrl: redis.url, overrides: { workflowsDir: EXAMPLES } });
    try {
      await hook(server.url, fixture("session-start"));
      await hook(server.url, fixture("post-tool-use.todo-write"));
      const subscriptions = await settled(server.url);
      assert.ok(subscriptions.every((s) => s.deadLetters === 0));
      assert.deepEqual(
        await call(server.url, "session.notify", { to: "master", project: "webapp", text: "hello" }),
        { delivered: false, to: null, reason: "project webapp has no master session" },
      );
    } finally {
      await server.close();
    }
  });
});
