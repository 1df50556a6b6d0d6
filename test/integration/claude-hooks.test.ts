import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Task } from "../../src/contract/tasks.js";
import { CLI, emptyDir, freePort } from "../helpers/cli.js";
import { projectDir, removeProjectDirs } from "../helpers/project.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";
import { post, rpc, startTestServer } from "../helpers/server.js";

/**
 * Claude Code's hooks end to end: every payload fixture (test/fixtures/claude-hooks, written
 * from Claude Code's hook reference) through POST /hook/claude on a real server and through
 * the `claudebench hook` command bridge (the built CLI, spawned with the payload on stdin).
 */

const FIXTURES = join(import.meta.dirname, "../fixtures/claude-hooks");
type Payload = Record<string, unknown>;
const fixture = (name: string): Payload => JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), "utf8"));

let redis: TestRedis;
before(async () => {
  redis = await startTestRedis();
});
after(async () => {
  await redis.stop();
  removeProjectDirs();
});

/** The environment without CLAUDEBENCH_* settings of whoever runs the tests. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith("CLAUDEBENCH_")) delete env[name];
  return { ...env, ...extra };
}

interface BridgeResult {
  code: number | string;
  stdout: string;
  stderr: string;
}

/** Runs `claudebench hook <args>` with `payload` on stdin, as Claude Code does. */
function bridge(args: string[], payload: Payload | string, env = cleanEnv()): Promise<BridgeResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, "hook", ...args], {
      env,
      cwd: emptyDir(), // the bridge reads ./.claudebench/policy.json: not the user's
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve({ code: code ?? signal ?? "unknown", stdout, stderr }));
    child.stdin.end(typeof payload === "string" ? payload : JSON.stringify(payload));
  });
}

async function call<T>(url: string, method: string, params: Record<string, unknown> = {}): Promise<T> {
  const { body } = await rpc(url, { jsonrpc: "2.0", id: 1, method, params });
  if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result as T;
}

const hook = async (url: string, payload: Payload) => {
  const res = await post(url, "/hook/claude", payload);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body as Record<string, unknown>;
};

const deny = (rule: string, reason: string) => ({
  hookSpecificOutput: {
    hookEventName: "PreToolUse",
    permissionDecision: "deny",
    permissionDecisionReason: `ClaudeBench policy (${rule}): ${reason}`,
  },
});

/**
 * Every fixture, in the order a session sends them, with the answer expected over HTTP. The
 * bridge answers the same JSON with exit 0, except a deny / block: exit 2, the reason on stderr.
 * SessionStart comes first: later, the session's todos are pending tasks of its project.
 */
const EXPECTED: [string, Record<string, unknown>][] = [
  ["session-start", {}],
  ["user-prompt-submit.plain", {}],
  [
    "user-prompt-submit.secret",
    {
      hookSpecificOutput: {
        hookEventName: "UserPromptSubmit",
        additionalContext:
          "The prompt seems to contain an AWS access key: do not repeat it, write it to files or send it anywhere.",
      },
    },
  ],
  ["pre-tool-use.bash-safe", {}],
  [
    "pre-tool-use.bash-dangerous",
    deny("rm-critical", "rm -r on /: deletes the system, a home directory or one holding the project"),
  ],
  [
    "pre-tool-use.bash-warn",
    {
      hookSpecificOutput: {
        hookEventName: "PreToolUse",
        additionalContext: "ClaudeBench policy: git reset --hard discards uncommitted changes",
      },
    },
  ],
  [
    "pre-tool-use.bash-ask",
    {
      hookSpecificOutput: {
        hookEventName: "PreToolUse",
        permissionDecision: "ask",
        permissionDecisionReason:
          "ClaudeBench policy (git-force-push): force-push rewrites the remote's history",
      },
    },
  ],
  [
    "pre-tool-use.bash-sudo",
    {
      hookSpecificOutput: {
        hookEventName: "PreToolUse",
        permissionDecision: "ask",
        permissionDecisionReason: "ClaudeBench policy (strip-sudo): sudo removed: agents run without root",
        updatedInput: { command: "npm install -g typescript", description: "Install TypeScript globally" },
      },
    },
  ],
  ["pre-tool-use.write-env", deny("write-secret", "writes to /home/dev/webapp/.env, which holds secrets")],
  ["pre-tool-use.edit-project", {}],
  ["pre-tool-use.mcp-tool", {}],
  ["post-tool-use.todo-write", {}],
  ["post-tool-use-failure.bash", {}],
  ["subagent-start", {}],
  ["subagent-stop", {}],
  ["notification", {}],
  ["pre-compact", {}],
  ["task-created", {}],
  ["task-completed", {}],
  ["stop", {}],
  ["unknown-future-event", {}],
  ["session-end", {}],
];

/** What the bridge does with an answer: Claude Code's exit codes. */
function bridgeExpectation(answer: Record<string, unknown>): BridgeResult {
  const specific = answer.hookSpecificOutput as Record<string, unknown> | undefined;
  if (specific?.permissionDecision === "deny")
    return { code: 2, stdout: "", stderr: `${specific.permissionDecisionReason}\n` };
  if (answer.decision === "block") return { code: 2, stdout: "", stderr: `${answer.reason}\n` };
  return { code: 0, stdout: `${JSON.stringify(answer)}\n`, stderr: "" };
}

/** The state the fixtures leave behind, the same whichever way they came in. */
async function assertSessionState(url: string): Promise<void> {
  const { tasks } = await call<{ tasks: Task[] }>(url, "task.list", { channel: "webapp", limit: 50 });
  const byText = new Map(tasks.map((t) => [t.text, t]));
  assert.equal(byText.get("Reproduce the login timeout")?.status, "completed");
  // SessionEnd unregistered the session: its todo in progress went back to the queue.
  assert.equal(byText.get("Raise the session TTL to one hour")?.status, "pending");
  assert.equal(byText.get("Add a regression test for session expiry")?.status, "pending");
  // TaskCreated then TaskCompleted (Claude Code's Task tools): one task, completed by the session.
  assert.equal(byText.get("Run the full test suite before the release")?.status, "completed");
  assert.equal(byText.get("Run the full test suite before the release")?.metadata.claudeTaskId, "3");
  assert.equal(tasks.length, 4);
  const { instances } = await call<{ instances: { id: string; status: string; roles: string[] }[] }>(
    url,
    "system.instances",
    { role: "claude-code" },
  );
  assert.deepEqual(
    instances.map((i) => [i.id, i.status]),
    [["cc-6f1c2a9e-3b7d-4e21-9c55-0d8a4b2f7e10", "unregistered"]],
  );
}

describe("Claude Code hooks: POST /hook/claude and the claudebench hook bridge", () => {
  it("every fixture has an expected answer", () => {
    const files = readdirSync(FIXTURES)
      .filter((f) => f.endsWith(".json"))
      .map((f) => f.slice(0, -5))
      .sort();
    assert.deepEqual(files, EXPECTED.map(([name]) => name).sort());
    const events = new Set(files.map((f) => fixture(f).hook_event_name));
    for (const event of [
      "PreToolUse",
      "PostToolUse",
      "PostToolUseFailure",
      "UserPromptSubmit",
      "SessionStart",
      "SessionEnd",
      "Stop",
      "SubagentStart",
      "SubagentStop",
      "Notification",
      "PreCompact",
      "TaskCreated",
      "TaskCompleted",
    ]) {
      assert.ok(events.has(event), `a fixture for ${event}`);
    }
  });

  it("every fixture through POST /hook/claude: Claude Code's answer, exactly", async () => {
    const server = await startTestServer({ redisUrl: redis.url });
    try {
      for (const [name, expected] of EXPECTED) {
        assert.deepEqual(await hook(server.url, fixture(name)), expected, name);
      }
      await assertSessionState(server.url);
    } finally {
      await server.close();
    }
  });

  it("every fixture through the command bridge: the same answers, a deny as exit 2 with the reason on stderr", async () => {
    const server = await startTestServer({ redisUrl: redis.url });
    try {
      for (const [name, expected] of EXPECTED) {
        const result = await bridge(["--url", server.url], fixture(name));
        assert.deepEqual(result, bridgeExpectation(expected), name);
      }
      await assertSessionState(server.url);
    } finally {
      await server.close();
    }
  });

  it("a project's own rules: a prompt blocked (decision block → exit 2) and a tool denied, from its .claudebench/policy.json", async () => {
    const server = await startTestServer({ redisUrl: redis.url });
    try {
      const dir = projectDir({
        prompt: [
          {
            id: "no-prod-db",
            match: "production database",
            decision: "block",
            reason: "Work on the production database goes through the DBA team.",
          },
        ],
        rules: [
          {
            id: "no-deploy",
            tool: "Bash",
            command: "npm run deploy*",
            decision: "deny",
            reason: "Deploys run in CI.",
          },
        ],
      });
      const prompt = {
        ...fixture("user-prompt-submit.plain"),
        cwd: dir,
        prompt: "Drop the old rows from the production database",
      };
      const blocked = {
        decision: "block",
        reason: "Work on the production database goes through the DBA team.",
      };
      assert.deepEqual(await hook(server.url, prompt), blocked);
      assert.deepEqual(await bridge(["--url", server.url], prompt), {
        code: 2,
        stdout: "",
        stderr: "Work on the production database goes through the DBA team.\n",
      });
      const deploy = {
        ...fixture("pre-tool-use.bash-safe"),
        cwd: dir,
        tool_input: { command: "npm run deploy -- --prod", description: "Deploy" },
      };
      assert.deepEqual(await hook(server.url, deploy), deny("no-deploy", "Deploys run in CI."));
      assert.deepEqual(await bridge(["--url", server.url], deploy), {
        code: 2,
        stdout: "",
        stderr: "ClaudeBench policy (no-deploy): Deploys run in CI.\n",
      });
      // The same command in another project is allowed.
      assert.deepEqual(await hook(server.url, { ...deploy, cwd: projectDir() }), {});
    } finally {
      await server.close();
    }
  });

  it("SessionStart tells a new session about the project's pending tasks", async () => {
    const server = await startTestServer({ redisUrl: redis.url });
    try {
      const dir = projectDir();
      const name = dir.split("/").pop() as string;
      await call(server.url, "task.create", { text: "Fix the flaky login test", channel: name });
      await call(server.url, "task.create", { text: "Update the changelog", channel: name });
      const start = { ...fixture("session-start"), cwd: dir, session_id: "second-session" };
      const expected = {
        hookSpecificOutput: {
          hookEventName: "SessionStart",
          additionalContext: `ClaudeBench: 2 pending task(s) in project ${name} (task__list / task__claim).`,
        },
      };
      assert.deepEqual(await hook(server.url, start), expected);
      assert.deepEqual(await bridge(["--url", server.url], start), bridgeExpectation(expected));
    } finally {
      await server.close();
    }
  });
});

describe("the bridge when the server cannot answer", () => {
  const pre = fixture("pre-tool-use.bash-dangerous");

  it("a dead port: exit 0 and no output by default (Claude Code proceeds); exit 2 with --on-unavailable block", async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    assert.deepEqual(await bridge(["--url", url], pre), { code: 0, stdout: "", stderr: "" });
    const blocked = await bridge(["--url", url, "--on-unavailable", "block"], pre);
    assert.equal(blocked.code, 2);
    assert.equal(blocked.stdout, "");
    assert.match(
      blocked.stderr,
      new RegExp(
        `^ClaudeBench server unreachable at ${url} \\(connect ECONNREFUSED [^)]+\\) and onServerUnavailable is "block" \\(--on-unavailable\\)\\. This tool call is blocked\\. Start the server with \`npx claudebench serve\``,
      ),
    );
    // The environment sets it too; the URL may come from there as well.
    // (a list, as workers take it: the hook asks the first)
    const env = cleanEnv({
      CLAUDEBENCH_ON_UNAVAILABLE: "block",
      CLAUDEBENCH_URL: `${url},http://127.0.0.1:9`,
    });
    const fromEnv = await bridge([], pre, env);
    assert.equal(fromEnv.code, 2);
    assert.match(fromEnv.stderr, /\(CLAUDEBENCH_ON_UNAVAILABLE\)\. This tool call is blocked/);
    assert.ok(fromEnv.stderr.includes(`unreachable at ${url} (`), fromEnv.stderr);
    // A prompt is held back as well; the Stop hook and the reports are not (that would keep Claude going in a loop).
    const prompt = await bridge(
      ["--url", url, "--on-unavailable", "block"],
      fixture("user-prompt-submit.plain"),
    );
    assert.equal(prompt.code, 2);
    assert.match(prompt.stderr, /This prompt is blocked/);
    for (const name of ["stop", "subagent-stop", "post-tool-use.todo-write", "notification", "session-end"]) {
      assert.deepEqual(await bridge(["--url", url, "--on-unavailable", "block"], fixture(name)), {
        code: 0,
        stdout: "",
        stderr: "",
      });
    }
    const start = await bridge(["--url", url, "--on-unavailable", "block"], fixture("session-start"));
    assert.equal(start.code, 2);
    assert.match(start.stderr, /Tool calls and prompts will be blocked until it answers/);
  });

  it("honours onServerUnavailable from the project's .claudebench/policy.json (the cwd in the payload); flags win", async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const dir = projectDir({ onServerUnavailable: "block" });
    const payload = { ...pre, cwd: dir };
    const blocked = await bridge(["--url", url], payload);
    assert.equal(blocked.code, 2);
    assert.ok(
      blocked.stderr.includes(`onServerUnavailable is "block" (${dir}/.claudebench/policy.json)`),
      blocked.stderr,
    );
    assert.deepEqual(await bridge(["--url", url, "--on-unavailable", "allow"], payload), {
      code: 0,
      stdout: "",
      stderr: "",
    });
    assert.deepEqual(
      await bridge(["--url", url], { ...pre, cwd: projectDir({ onServerUnavailable: "allow" }) }),
      {
        code: 0,
        stdout: "",
        stderr: "",
      },
    );
    // A policy file it cannot read: allow, with a warning.
    const broken = projectDir();
    mkdirSync(join(broken, ".claudebench"));
    writeFileSync(join(broken, ".claudebench", "policy.json"), "{ onServerUnavailable: block");
    const warned = await bridge(["--url", url], { ...pre, cwd: broken });
    assert.equal(warned.code, 0);
    assert.equal(warned.stdout, "");
    assert.match(warned.stderr, /policy\.json: not valid JSON .*; allowing/);
  });

  it("a server that accepts but does not answer: the timeout, then onServerUnavailable", async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as { port: number };
    try {
      const url = `http://127.0.0.1:${port}`;
      const started = Date.now();
      assert.deepEqual(await bridge(["--url", url, "--timeout-ms", "300"], pre), {
        code: 0,
        stdout: "",
        stderr: "",
      });
      const blocked = await bridge(["--url", url, "--timeout-ms", "300", "--on-unavailable", "block"], pre);
      assert.equal(blocked.code, 2);
      assert.match(blocked.stderr, /\(no answer within 300 ms\)/);
      assert.ok(Date.now() - started < 20_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it("with a token: sent as Bearer (flag or CLAUDEBENCH_TOKEN); a refused token is a non-2xx answer", async () => {
    const token = "hook-bridge-token-0123456789";
    const server = await startTestServer({ redisUrl: redis.url, authToken: token });
    try {
      const denied = bridgeExpectation(
        deny("rm-critical", "rm -r on /: deletes the system, a home directory or one holding the project"),
      );
      assert.deepEqual(await bridge(["--url", server.url, "--token", token], pre), denied);
      assert.deepEqual(
        await bridge(["--url", server.url], pre, cleanEnv({ CLAUDEBENCH_TOKEN: token })),
        denied,
      );
      assert.deepEqual(await bridge(["--url", server.url], pre), { code: 0, stdout: "", stderr: "" });
      const blocked = await bridge(["--url", server.url, "--on-unavailable", "block"], pre);
      assert.equal(blocked.code, 2);
      assert.match(
        blocked.stderr,
        /^ClaudeBench server at http:\/\/127\.0\.0\.1:\d+ could not decide \(HTTP 401 UNAUTHORIZED: Unauthorized: send Authorization: Bearer <token>\) .* Check the server's log and the token/,
      );
    } finally {
      await server.close();
    }
  });

  it("bad input or arguments: a non-blocking error (exit 1) that says what is wrong", async () => {
    const notJson = await bridge([], "this is not JSON");
    assert.equal(notJson.code, 1);
    assert.match(notJson.stderr, /^claudebench hook: stdin is not Claude Code's hook JSON/);
    const badMode = await bridge(["--on-unavailable", "maybe"], pre);
    assert.equal(badMode.code, 1);
    assert.match(badMode.stderr, /^claudebench hook: --on-unavailable = "maybe": use allow or block/);
    const badUrl = await bridge(["--url", "localhost:3000"], pre);
    assert.equal(badUrl.code, 1);
    assert.match(badUrl.stderr, /must start with http:\/\/ or https:\/\//);
  });
});

describe("sessions' todos through PostToolUse/TodoWrite", () => {
  const todoWrite = (session: string, cwd: string, todos: { content: string; status: string }[]) => ({
    session_id: session,
    transcript_path: `/home/dev/.claude/projects/p/${session}.jsonl`,
    cwd,
    permission_mode: "default",
    hook_event_name: "PostToolUse",
    tool_name: "TodoWrite",
    tool_input: { todos: todos.map((t) => ({ ...t, activeForm: `Working on: ${t.content}` })) },
    tool_response: { oldTodos: [], newTodos: todos },
    tool_use_id: `toolu_${session}_${Math.random().toString(36).slice(2, 10)}`,
  });

  it("two sessions in parallel: each holds its own tasks; removal, rewording and completion never cross", async () => {
    const server = await startTestServer({ redisUrl: redis.url });
    try {
      const cwd = projectDir(); // one project, so both sessions' tasks share its channel
      const channel = cwd.split("/").pop() as string;
      const tasks = async () =>
        (await call<{ tasks: Task[] }>(server.url, "task.list", { channel, limit: 100 })).tasks;
      const of = (all: Task[], session: string) => all.filter((t) => t.metadata.sessionId === session);
      const byIdOf = (all: Task[], id: string) => all.find((t) => t.id === id);
      const find = (all: Task[], text: string) => {
        const found = all.filter((t) => t.text === text);
        assert.equal(found.length, 1, `one task "${text}"`);
        return found[0] as Task;
      };

      // Both sessions write the same texts at the same time: they still get separate tasks.
      const A1 = [
        { content: "Write the login tests", status: "pending" },
        { content: "Fix the session TTL", status: "in_progress" },
        { content: "Update the docs", status: "pending" },
      ];
      const B1 = [
        { content: "Fix the session TTL", status: "in_progress" },
        { content: "Profile the login page", status: "pending" },
      ];
      const first = await Promise.all([
        hook(server.url, todoWrite("sess-A", cwd, A1)),
        hook(server.url, todoWrite("sess-B", cwd, B1)),
      ]);
      assert.deepEqual(first, [{}, {}]);
      let all = await tasks();
      assert.equal(of(all, "sess-A").length, 3);
      assert.equal(of(all, "sess-B").length, 2);
      const aTtl = find(of(all, "sess-A"), "Fix the session TTL");
      const bTtl = find(of(all, "sess-B"), "Fix the session TTL");
      assert.notEqual(aTtl.id, bTtl.id);
      assert.equal(aTtl.status, "in_progress");
      assert.equal(aTtl.assignedTo, "cc-sess-A");
      assert.equal(bTtl.status, "in_progress");
      assert.equal(bTtl.assignedTo, "cc-sess-B");
      const aTests = find(of(all, "sess-A"), "Write the login tests");
      const aDocs = find(of(all, "sess-A"), "Update the docs");
      const bProfile = find(of(all, "sess-B"), "Profile the login page");

      // A rewords one todo, completes one and drops one; B, at the same moment, adds one and
      // moves its in-progress todo back to pending.
      const A2 = [
        { content: "Write the login tests for session expiry", status: "in_progress" },
        { content: "Fix the session TTL", status: "completed" },
      ];
      const B2 = [
        { content: "Fix the session TTL", status: "pending" },
        { content: "Profile the login page", status: "in_progress" },
        { content: "Update the docs", status: "pending" },
      ];
      await Promise.all([
        hook(server.url, todoWrite("sess-A", cwd, A2)),
        hook(server.url, todoWrite("sess-B", cwd, B2)),
      ]);
      all = await tasks();
      const byId = new Map(all.map((t) => [t.id, t]));
      // A: the reworded todo kept its task; the completed one completed; the dropped one cancelled.
      assert.equal(byId.get(aTests.id)?.text, "Write the login tests for session expiry");
      assert.equal(byId.get(aTests.id)?.status, "in_progress");
      assert.equal(byId.get(aTests.id)?.assignedTo, "cc-sess-A");
      assert.equal(byId.get(aTtl.id)?.status, "completed");
      assert.equal(byId.get(aDocs.id)?.status, "cancelled");
      assert.equal(of(all, "sess-A").length, 3);
      // B: untouched by A — its TTL task released, not completed; its new "Update the docs" is its own.
      assert.equal(byId.get(bTtl.id)?.status, "pending");
      assert.equal(byId.get(bTtl.id)?.assignedTo, undefined);
      assert.equal(byId.get(bProfile.id)?.status, "in_progress");
      assert.equal(byId.get(bProfile.id)?.assignedTo, "cc-sess-B");
      const bDocs = find(of(all, "sess-B"), "Update the docs");
      assert.notEqual(bDocs.id, aDocs.id);
      assert.equal(bDocs.status, "pending");
      assert.equal(of(all, "sess-B").length, 3);

      // Each session is an instance of its own.
      const { instances } = await call<{ instances: { id: string; status: string }[] }>(
        server.url,
        "system.instances",
        { role: "claude-code" },
      );
      assert.deepEqual(instances.map((i) => i.id).sort(), ["cc-sess-A", "cc-sess-B"]);

      // A subagent of session A (same session_id, its own agent_id) keeps a list of its own:
      // it does not replace — and cancel — the main agent's.
      const sub = {
        ...todoWrite("sess-A", cwd, [{ content: "Survey the session code", status: "in_progress" }]),
      };
      await hook(server.url, { ...sub, agent_id: "agent-7f3a", agent_type: "Explore" });
      all = await tasks();
      assert.equal(byIdOf(all, aTests.id)?.status, "in_progress");
      const survey = find(of(all, "sess-A"), "Survey the session code");
      assert.equal(survey.assignedTo, "cc-sess-A");
      await hook(server.url, todoWrite("sess-A", cwd, A2));
      assert.equal(byIdOf(await tasks(), survey.id)?.status, "in_progress");

      // Many writes of both sessions interleaved: each one's list ends as its own last write.
      await Promise.all(
        ["sess-A", "sess-B"].flatMap((session) =>
          [1, 2, 3, 4].map((n) =>
            hook(
              server.url,
              todoWrite(`${session}-burst`, cwd, [{ content: `${session} step ${n}`, status: "pending" }]),
            ),
          ),
        ),
      );
      all = await tasks();
      for (const session of ["sess-A-burst", "sess-B-burst"]) {
        const mine = of(all, session);
        assert.ok(
          mine.every((t) => t.text.startsWith(session.replace("-burst", ""))),
          session,
        );
        assert.equal(mine.filter((t) => t.status === "pending").length, 1, `${session}: one live todo`);
      }
    } finally {
      await server.close();
    }
  });

  it("a todo in progress stays the session's past the workers' lease (it is not put back in the queue)", async () => {
    const server = await startTestServer({
      redisUrl: redis.url,
      overrides: { leaseMs: 1000, maintenanceIntervalMs: 100, backoffBaseMs: 10, backoffMaxMs: 20 },
    });
    try {
      const cwd = projectDir();
      await hook(
        server.url,
        todoWrite("long-session", cwd, [{ content: "A long refactor", status: "in_progress" }]),
      );
      await new Promise((r) => setTimeout(r, 2500)); // two and a half worker leases
      const [task] = (
        await call<{ tasks: Task[] }>(server.url, "task.list", { channel: cwd.split("/").pop() })
      ).tasks;
      assert.equal(task?.status, "in_progress");
      assert.equal(task?.assignedTo, "cc-long-session");
      assert.equal(task?.attempts, 1);
      // A worker asking for work does not get it.
      const claimed = await call<{ claimed: boolean }>(server.url, "task.claim", { workerId: "worker-1" });
      assert.equal(claimed.claimed, false);
      await hook(
        server.url,
        todoWrite("long-session", cwd, [{ content: "A long refactor", status: "completed" }]),
      );
      assert.equal((await call<Task>(server.url, "task.get", { id: task?.id })).status, "completed");
    } finally {
      await server.close();
    }
  });
});

describe("the original API over JSON-RPC", () => {
  it("hook.pre_tool: allow, deny and ask (refused with a reason: the original protocol has no ask)", async () => {
    const server = await startTestServer({ redisUrl: redis.url });
    try {
      // Each answer also lists the hook links that ran: here only the policy engine's.
      const pre = async (params: Record<string, unknown>) => {
        const { links, ...answer } = await call<{ links: { name: string; outcome: string }[] }>(
          server.url,
          "hook.pre_tool",
          { sessionId: "api-session", ...params },
        );
        assert.deepEqual(
          links.map((l) => [l.name, l.outcome]),
          [["builtin.policy", (answer as Record<string, unknown>).decision]],
        );
        return answer;
      };
      assert.deepEqual(await pre({ tool: "Bash", params: { command: "npm test" } }), {
        allow: true,
        decision: "allow",
      });
      assert.deepEqual(await pre({ tool: "Bash", params: "rm -rf /" }), {
        allow: false,
        reason: "rm -r on /: deletes the system, a home directory or one holding the project",
        decision: "deny",
        rule: "rm-critical",
      });
      assert.deepEqual(
        await pre({ tool: "Write", params: { file_path: "/home/dev/app/.env" }, cwd: "/home/dev/app" }),
        {
          allow: false,
          reason: "writes to /home/dev/app/.env, which holds secrets",
          decision: "deny",
          rule: "write-secret",
        },
      );
      assert.deepEqual(await pre({ tool: "Bash", params: { command: "git push --force origin topic" } }), {
        allow: false,
        reason: "needs a person's confirmation: force-push rewrites the remote's history",
        decision: "ask",
        rule: "git-force-push",
      });
    } finally {
      await server.close();
    }
  });

  it("hook.todo_write: created, kept, reworded (same task), cancelled when removed, per session", async () => {
    const server = await startTestServer({ redisUrl: redis.url });
    try {
      const write = (sessionId: string, todos: { content: string; status: string }[]) =>
        call<{
          processed: boolean;
          todos: { content: string; taskId: string; status: string; action: string }[];
          cancelled: string[];
        }>(server.url, "hook.todo_write", { sessionId, cwd: "/home/dev/api-project", todos });
      const first = await write("api-1", [
        { content: "Add rate limiting to the API", status: "in_progress" },
        { content: "Document the limits", status: "pending" },
      ]);
      assert.equal(first.processed, true);
      assert.deepEqual(
        first.todos.map((t) => t.action),
        ["created", "created"],
      );
      const [limit, docs] = first.todos.map((t) => t.taskId);
      const other = await write("api-2", [{ content: "Document the limits", status: "pending" }]);
      assert.notEqual(other.todos[0]?.taskId, docs);

      const second = await write("api-1", [
        { content: "Add rate limiting to the public API", status: "completed" },
      ]);
      assert.deepEqual(second.todos, [
        {
          content: "Add rate limiting to the public API",
          taskId: limit,
          status: "completed",
          action: "reworded",
        },
      ]);
      assert.deepEqual(second.cancelled, [docs]);
      const task = await call<Task>(server.url, "task.get", { id: limit });
      assert.equal(task.status, "completed");
      assert.equal(task.text, "Add rate limiting to the public API");
      assert.equal(
        (await call<Task>(server.url, "task.get", { id: other.todos[0]?.taskId })).status,
        "pending",
      );
    } finally {
      await server.close();
    }
  });
});
