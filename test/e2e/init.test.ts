import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { runCli } from "../helpers/cli.js";

/** `claudebench init` as a user runs it: the built CLI in temporary project directories. */

const EVENTS = [
  "PreToolUse",
  "PostToolUse",
  "UserPromptSubmit",
  "SessionStart",
  "SessionEnd",
  "Stop",
  "SubagentStop",
  "Notification",
  "PreCompact",
  "TaskCreated",
  "TaskCompleted",
];
const OUR_HTTP = { type: "http", url: "http://127.0.0.1:3000/hook/claude", timeout: 10 };

/** The environment without anything that would change init's URL or token. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  for (const name of ["CLAUDEBENCH_URL", "CLAUDEBENCH_TOKEN", "AUTH_TOKEN", "PORT"]) {
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
    assert.deepEqual(settings.hooks.PreToolUse, [{ matcher: "*", hooks: [OUR_HTTP] }]);
    assert.deepEqual(settings.hooks.PostToolUse, [
      { matcher: "TodoWrite|TaskCreate|TaskUpdate", hooks: [OUR_HTTP] },
    ]);
    for (const event of EVENTS.slice(2))
      assert.deepEqual(settings.hooks[event], [{ hooks: [OUR_HTTP] }], event);
    assert.deepEqual(json(dir, ".mcp.json"), {
      mcpServers: { claudebench: { type: "http", url: "http://127.0.0.1:3000/mcp" } },
    });
    assert.match(
      result.stdout,
      /\.claude\/settings\.json: created: added PreToolUse, PostToolUse, UserPromptSubmit/,
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
    assert.match(result.stdout, /\.claude\/settings\.json: updated: added PreToolUse, PostToolUse/);
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
      { hooks: [{ type: "command", command: "npx claudebench hook", timeout: 10 }] },
    ]);
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
