import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { CLI, freePort, runCli, runDangerousPreToolUse } from "../helpers/cli.js";
import { startTestRedis } from "../helpers/redis.js";
import { startTestServer } from "../helpers/server.js";

/** `claudebench init` as a user runs it: the built CLI in temporary project directories. */

/** Every event docs/claude-code.md lists; the tool events for every tool. */
const EVENTS = [
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
];
const TOOL_EVENTS = EVENTS.slice(0, 3);
const ROOT = join(import.meta.dirname, "../..");
/** Where no server answers (init warns, and writes all the same). */
const NO_SERVER = `http://127.0.0.1:${await freePort()}`;
const OUR_HTTP = { type: "http", url: `${NO_SERVER}/hook/claude`, timeout: 10 };
/** The hook command init writes: this node and this package's bin, by absolute path. */
const OUR_COMMAND = (url = NO_SERVER) => `${process.execPath} ${CLI} hook --url ${url}`;

/** The environment with init's URL set to NO_SERVER (unless `extra` says otherwise) and no token. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, CLAUDEBENCH_URL: NO_SERVER, ...extra };
  for (const name of ["CLAUDEBENCH_TOKEN", "AUTH_TOKEN", "PORT"]) {
    if (!(name in extra)) delete env[name];
  }
  return env;
}

async function init(args: string[], env = cleanEnv()) {
  const cli = runCli(["init", ...args], env);
  const code = await cli.exited;
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

const dirs: string[] = [];
function project(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "cb-init-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const read = (dir: string, name: string) => readFileSync(join(dir, name), "utf8");
const json = (dir: string, name: string) => JSON.parse(read(dir, name));

const THEIR_SETTINGS = `{
  "permissions": {
    "allow": ["Bash(npm run lint)", "Bash(npm test:*)"]
  },
  "hooks": {
    "PreToolUse": [
      {
        "matcher": "Bash",
        "hooks": [{ "type": "command", "command": "$CLAUDE_PROJECT_DIR/.claude/hooks/guard.sh", "timeout": 5 }]
      }
    ],
    "Stop": [
      {
        "hooks": [{ "type": "command", "command": "notify-send 'Claude is done'" }]
      }
    ]
  }
}
`;
const THEIR_MCP = `{
  "mcpServers": {
    "sentry": {"type": "http", "url": "https://mcp.sentry.dev/mcp"},
    "postgres": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-postgres", "postgresql://localhost/app"]
    }
  }
}
`;

describe("claudebench init", () => {
  it("sets up an empty project: every hook event, the MCP server, and says what it did", async () => {
    const dir = project();
    const result = await init(["--dir", dir]);
    assert.equal(result.code, 0, result.stderr);
    const settings = json(dir, ".claude/settings.json");
    assert.deepEqual(Object.keys(settings), ["hooks"]);
    assert.deepEqual(Object.keys(settings.hooks), EVENTS);
    // Every tool, before and after: post_tool hook links may act after any tool.
    for (const event of TOOL_EVENTS)
      assert.deepEqual(settings.hooks[event], [{ matcher: "*", hooks: [OUR_HTTP] }], event);
    for (const event of EVENTS.slice(TOOL_EVENTS.length))
      assert.deepEqual(settings.hooks[event], [{ hooks: [OUR_HTTP] }], event);
    assert.deepEqual(json(dir, ".mcp.json"), {
      mcpServers: { claudebench: { type: "http", url: `${NO_SERVER}/mcp` } },
    });
    assert.match(
      result.stdout,
      /\.claude\/settings\.json: created: added PreToolUse, PostToolUse, PostToolUseFailure, UserPromptSubmit, SessionStart, SessionEnd, Stop, SubagentStart,/,
    );
    assert.match(result.stdout, /\.mcp\.json: created: added MCP server claudebench/);
    assert.match(
      result.stdout,
      /onServerUnavailable: allow: if the server is down, Claude Code proceeds; set onServerUnavailable: block in \.claudebench\/policy\.json to fail closed/,
    );
  });

  it("merges into a project's own hooks and MCP servers, keeping them byte for byte", async () => {
    const dir = project({ ".claude/settings.json": THEIR_SETTINGS, ".mcp.json": THEIR_MCP });
    const result = await init(["--dir", dir]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /\.claude\/settings\.json: updated: added PreToolUse, PostToolUse, PostToolUseFailure/,
    );
    const settingsText = read(dir, ".claude/settings.json");
    const settings = JSON.parse(settingsText);
    const theirs = JSON.parse(THEIR_SETTINGS);
    assert.deepEqual(settings.permissions, theirs.permissions);
    assert.deepEqual(settings.hooks.PreToolUse, [
      ...theirs.hooks.PreToolUse,
      { matcher: "*", hooks: [OUR_HTTP] },
    ]);
    assert.deepEqual(settings.hooks.Stop, [...theirs.hooks.Stop, { hooks: [OUR_HTTP] }]);
    // Their text is untouched: the file starts as theirs did, up to their last PreToolUse group.
    const upToTheirGroup = THEIR_SETTINGS.slice(0, THEIR_SETTINGS.indexOf('\n    ],\n    "Stop"'));
    assert.ok(settingsText.startsWith(upToTheirGroup));
    const mcpText = read(dir, ".mcp.json");
    assert.ok(mcpText.startsWith(THEIR_MCP.slice(0, THEIR_MCP.lastIndexOf("]\n    }") + 7)));
    assert.deepEqual(Object.keys(JSON.parse(mcpText).mcpServers), ["sentry", "postgres", "claudebench"]);

    // --uninstall gives back exactly what was there.
    const removed = await init(["--dir", dir, "--uninstall"]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /\.claude\/settings\.json: updated: removed PreToolUse/);
    assert.equal(read(dir, ".claude/settings.json"), THEIR_SETTINGS);
    assert.equal(read(dir, ".mcp.json"), THEIR_MCP);
    const again = await init(["--dir", dir, "--uninstall"]);
    assert.match(again.stdout, /\.claude\/settings\.json: no change \(no ClaudeBench entries\)/);
  });

  it("run twice, the second run reports no change and rewrites nothing", async () => {
    const dir = project({ ".mcp.json": THEIR_MCP });
    assert.equal((await init(["--dir", dir, "--command"])).code, 0);
    const settingsBefore = statSync(join(dir, ".claude/settings.json")).mtimeMs;
    const mcpBefore = read(dir, ".mcp.json");
    const second = await init(["--dir", dir, "--command"]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /\.claude\/settings\.json: no change \(already set up\)/);
    assert.match(second.stdout, /\.mcp\.json: no change \(already set up\)/);
    assert.equal(statSync(join(dir, ".claude/settings.json")).mtimeMs, settingsBefore);
    assert.equal(read(dir, ".mcp.json"), mcpBefore);
    assert.deepEqual(json(dir, ".claude/settings.json").hooks.Stop, [
      { hooks: [{ type: "command", command: OUR_COMMAND(), timeout: 10 }] },
    ]);
  });

  it("without --url or CLAUDEBENCH_URL, the entries name http://127.0.0.1:3000", async () => {
    const dir = project();
    const env = cleanEnv();
    delete env.CLAUDEBENCH_URL;
    const result = await init(["--dir", dir, "--dry-run"], env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /http hooks → http:\/\/127\.0\.0\.1:3000\/hook\/claude, MCP server → http:\/\/127\.0\.0\.1:3000\/mcp/,
    );
  });

  it("--command writes a command that runs from the project, outside this package: a real server's deny is exit 2", async () => {
    const redis = await startTestRedis();
    const server = await startTestServer({ redisUrl: redis.url });
    try {
      const dir = project();
      const result = await init(["--dir", dir, "--command"], cleanEnv({ CLAUDEBENCH_URL: server.url }));
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`server: ${server.url} answers /health`));
      assert.doesNotMatch(result.stderr, /warning/);
      const settings = json(dir, ".claude/settings.json");
      const command = settings.hooks.PreToolUse[0].hooks[0].command as string;
      assert.equal(command, OUR_COMMAND(server.url));
      for (const event of EVENTS) assert.equal(settings.hooks[event][0].hooks[0].command, command, event);

      // As Claude Code runs it: a deny is exit 2, which Claude Code enforces.
      const hook = await runDangerousPreToolUse(command, dir, cleanEnv());
      assert.equal(hook.code, 2, hook.stderr);
      assert.match(hook.stderr, /rm-critical/);
    } finally {
      await server.close();
      await redis.stop();
    }
  });

  it("warns, and still writes, when no server answers the URL it writes", async () => {
    const dir = project({ ".claudebench/policy.json": '{ "onServerUnavailable": "block" }\n' });
    const http = await init(["--dir", dir]);
    assert.equal(http.code, 0, http.stderr);
    const noServer = NO_SERVER.replaceAll(".", "\\.");
    assert.match(
      http.stderr,
      new RegExp(
        `^warning: no ClaudeBench server answers ${noServer}/health \\(ECONNREFUSED\\): until a server answers there, the hooks check nothing \\(Claude Code proceeds\\)\\. Start one with \`claudebench serve\`, or run init again with --url <its URL>\\.$`,
        "m",
      ),
    );
    assert.ok(existsSync(join(dir, ".claude/settings.json")));
    const command = await init(["--dir", dir, "--command"]);
    assert.equal(command.code, 0, command.stderr);
    assert.match(command.stderr, /the hooks block tool calls and prompts\./);
  });

  it("refuses to write a hook command that does not run, and says why", async () => {
    // A copy of the package whose hook module is missing (a broken install): init runs, the hook cannot.
    const pkg = project();
    for (const name of ["bin", "dist", "package.json"])
      cpSync(join(ROOT, name), join(pkg, name), { recursive: true });
    symlinkSync(realpathSync(join(ROOT, "node_modules")), join(pkg, "node_modules"));
    rmSync(join(pkg, "dist/cli/hook.js"));
    const dir = project();
    const cli = spawn(
      process.execPath,
      [join(pkg, "bin/claudebench.js"), "init", "--command", "--dir", dir],
      {
        env: cleanEnv(),
      },
    );
    let stderr = "";
    cli.stderr.on("data", (d) => {
      stderr += d;
    });
    const [code] = (await once(cli, "exit")) as [number];
    assert.equal(code, 1);
    assert.match(
      stderr,
      /^claudebench init: the hook command does not run \(exit 1: claudebench: the CLI is not built yet\. .*\): .*bin\/claudebench\.js hook --url .*; nothing was written$/m,
    );
    assert.deepEqual(readdirSync(dir), []);
  });

  it("--dry-run prints a diff of each file and writes nothing", async () => {
    const dir = project({ ".claude/settings.json": THEIR_SETTINGS });
    const result = await init(["--dir", dir, "--dry-run", "--url", "http://127.0.0.1:4123/"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /\.claude\/settings\.json: would be updated: added PreToolUse/);
    assert.match(result.stdout, /^--- a\/\.claude\/settings\.json\n\+\+\+ b\/\.claude\/settings\.json\n@@ /m);
    assert.match(result.stdout, /^\+ {12}"url": "http:\/\/127\.0\.0\.1:4123\/hook\/claude",$/m);
    assert.match(result.stdout, /^--- \/dev\/null\n\+\+\+ b\/\.mcp\.json\n@@ -0,0 \+1,8 @@\n\+\{$/m);
    assert.match(result.stdout, /dry run: nothing was written/);
    assert.equal(read(dir, ".claude/settings.json"), THEIR_SETTINGS);
    assert.deepEqual(readdirSync(dir).sort(), [".claude"]);
    assert.deepEqual(readdirSync(join(dir, ".claude")), ["settings.json"]);
  });

  it("--uninstall of a project that only had ours removes the files and .claude/, never the project", async () => {
    const dir = project();
    await init(["--dir", dir, "--local"]);
    assert.ok(existsSync(join(dir, ".claude/settings.local.json")));
    assert.ok(!existsSync(join(dir, ".claude/settings.json")));
    const result = await init(["--dir", dir, "--local", "--uninstall"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /\.claude\/settings\.local\.json: deleted: removed PreToolUse/);
    assert.match(result.stdout, /\.mcp\.json: deleted: removed MCP server claudebench/);
    assert.ok(existsSync(dir));
    assert.deepEqual(readdirSync(dir), []);
  });

  it("with a token configured, the files reference $CLAUDEBENCH_TOKEN and never hold the token", async () => {
    const dir = project();
    const token = "s3cret-token-0123456789abcdef";
    const result = await init(["--dir", dir], cleanEnv({ CLAUDEBENCH_TOKEN: token }));
    assert.equal(result.code, 0, result.stderr);
    assert.ok(!read(dir, ".claude/settings.json").includes(token));
    assert.ok(!read(dir, ".mcp.json").includes(token));
    assert.deepEqual(json(dir, ".mcp.json").mcpServers.claudebench.headers, {
      Authorization: `Bearer \${CLAUDEBENCH_TOKEN}`,
    });
    assert.deepEqual(json(dir, ".claude/settings.json").hooks.PreToolUse[0].hooks[0].allowedEnvVars, [
      "CLAUDEBENCH_TOKEN",
    ]);
    assert.match(result.stdout, /export CLAUDEBENCH_TOKEN where Claude Code runs/);
  });

  it("refuses a file that is not JSON and writes nothing at all", async () => {
    const dir = project({ ".mcp.json": '{ "mcpServers": { oops } }\n' });
    const result = await init(["--dir", dir]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /claudebench init: \.mcp\.json is not valid JSON .*nothing was written/);
    assert.deepEqual(readdirSync(dir), [".mcp.json"]);
  });

  it("reports onServerUnavailable: block from the project's policy, and that HTTP hooks cannot fail closed", async () => {
    const dir = project({ ".claudebench/policy.json": '{ "onServerUnavailable": "block" }\n' });
    const http = await init(["--dir", dir, "--dry-run"]);
    assert.match(http.stdout, /onServerUnavailable: block .* only with --command/);
    const command = await init(["--dir", dir, "--command"]);
    assert.match(command.stdout, /onServerUnavailable: block .*claudebench hook exits 2/);
  });
});
