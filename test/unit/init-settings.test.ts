import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { unifiedDiff } from "../../src/cli/settings-diff.js";
import {
  HOOK_EVENTS,
  hookHandler,
  InitError,
  type InitOptions,
  installHooks,
  installMcp,
  isOurHook,
  shellWord,
  uninstallHooks,
  uninstallMcp,
} from "../../src/cli/settings-install.js";

/** `claudebench init`'s merge logic: Claude Code's settings and .mcp.json, edited in place. */

const CLI = "/usr/bin/node /opt/claudebench/bin/claudebench.js";
const HTTP: InitOptions = { kind: "http", url: "http://127.0.0.1:3000", token: false, cli: CLI };
const COMMAND: InitOptions = { kind: "command", url: "http://127.0.0.1:3000", token: false, cli: CLI };
const OUR_HTTP = { type: "http", url: "http://127.0.0.1:3000/hook/claude", timeout: 10 };
const pretty = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/** A hand-written settings file: 4-space indent, one-line arrays, the user's own hooks. */
const USER_SETTINGS = `{
    "permissions": { "allow": ["Bash(npm test)", "Read"], "deny": ["Read(./.env)"] },
    "hooks": {
        "PreToolUse": [
            { "matcher": "Bash", "hooks": [ { "type": "command", "command": "./scripts/check-bash.sh" } ] }
        ],
        "PostToolUse": [
            {
                "matcher": "Write|Edit",
                "hooks": [
                    { "type": "command", "command": "npx prettier --write \\"$CLAUDE_FILE\\"" }
                ]
            }
        ]
    },
    "env": {"NODE_ENV": "development"}
}
`;

const USER_MCP = `{
  "mcpServers": {
    "github": { "type": "http", "url": "https://api.githubcopilot.com/mcp/" },
    "files": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem", "."]
    }
  }
}
`;

describe("init: hook entries", () => {
  it("an empty project gets every event, in Claude Code's settings shape, formatted like JSON.stringify", () => {
    const plan = installHooks(null, HTTP);
    assert.ok(plan.after);
    const settings = JSON.parse(plan.after);
    assert.equal(plan.after, pretty(settings));
    assert.deepEqual(
      Object.keys(settings.hooks),
      HOOK_EVENTS.map((e) => e.event),
    );
    // Every tool, before and after: post_tool hook links may act after any tool.
    for (const event of ["PreToolUse", "PostToolUse", "PostToolUseFailure"])
      assert.deepEqual(settings.hooks[event], [{ matcher: "*", hooks: [OUR_HTTP] }], event);
    assert.deepEqual(settings.hooks.UserPromptSubmit, [{ hooks: [OUR_HTTP] }]);
    assert.deepEqual(settings.hooks.SubagentStart, [{ hooks: [OUR_HTTP] }]);
    assert.deepEqual(settings.hooks.TaskCompleted, [{ hooks: [OUR_HTTP] }]);
    assert.equal(plan.changes.length, HOOK_EVENTS.length);
  });

  it("--command writes the bridge as the given CLI, with --url only when the URL is not the default", () => {
    assert.deepEqual(hookHandler(COMMAND), { type: "command", command: `${CLI} hook`, timeout: 10 });
    assert.deepEqual(hookHandler({ ...COMMAND, url: "http://10.0.0.5:4000" }), {
      type: "command",
      command: `${CLI} hook --url http://10.0.0.5:4000`,
      timeout: 10,
    });
    const spaced = { ...COMMAND, cli: `/usr/bin/node '/home/me/my tools/claudebench/bin/claudebench.js'` };
    assert.ok(isOurHook(hookHandler(spaced)));
  });

  it("shellWord leaves safe words alone and single-quotes the rest", () => {
    assert.equal(shellWord("/usr/local/bin/node"), "/usr/local/bin/node");
    assert.equal(shellWord("http://127.0.0.1:3000/x?a=1"), "'http://127.0.0.1:3000/x?a=1'");
    assert.equal(shellWord("/home/me/it's here"), `'/home/me/it'\\''s here'`);
  });

  it("with a token, the HTTP hooks send it by reference to $CLAUDEBENCH_TOKEN, never the token itself", () => {
    assert.deepEqual(hookHandler({ ...HTTP, token: true }), {
      ...OUR_HTTP,
      headers: { Authorization: "Bearer $CLAUDEBENCH_TOKEN" },
      allowedEnvVars: ["CLAUDEBENCH_TOKEN"],
    });
  });

  it("the user's hooks, matchers and other settings stay byte for byte; ours follow their indentation", () => {
    const plan = installHooks(USER_SETTINGS, HTTP);
    assert.ok(plan.after);
    const after = JSON.parse(plan.after);
    const before = JSON.parse(USER_SETTINGS);
    assert.deepEqual(after.permissions, before.permissions);
    assert.deepEqual(after.env, before.env);
    assert.deepEqual(after.hooks.PreToolUse, [
      ...before.hooks.PreToolUse,
      { matcher: "*", hooks: [OUR_HTTP] },
    ]);
    assert.deepEqual(after.hooks.PostToolUse, [
      ...before.hooks.PostToolUse,
      { matcher: "*", hooks: [OUR_HTTP] },
    ]);
    // Their lines are all still there, in order, unchanged (only a comma may follow a last element).
    const lines = plan.after.split("\n");
    let at = 0;
    for (const line of USER_SETTINGS.split("\n")) {
      const found = lines.findIndex((l, i) => i >= at && (l === line || l === `${line},`));
      assert.ok(found >= 0, `line kept: ${line}`);
      at = found + 1;
    }
    assert.match(plan.after, /\n {12}\{\n {16}"matcher": "\*",\n {16}"hooks": \[/);
    // Taking ours out gives the original text back.
    assert.equal(uninstallHooks(plan.after).after, USER_SETTINGS);
  });

  it("is idempotent: a second run changes nothing, whatever the file's layout", () => {
    for (const start of [null, USER_SETTINGS, "{}", '{"hooks":{}}']) {
      const first = installHooks(start, HTTP);
      const second = installHooks(first.after, HTTP);
      assert.deepEqual(second.changes, []);
      assert.equal(second.after, first.after);
    }
  });

  it("switching --http → --command replaces ours in place of adding a second set; a stray duplicate is cleaned up", () => {
    const http = installHooks(USER_SETTINGS, HTTP).after;
    const command = installHooks(http, COMMAND);
    assert.ok(command.after);
    const hooks = JSON.parse(command.after).hooks as Record<string, { hooks: unknown[] }[]>;
    for (const { event } of HOOK_EVENTS) {
      const handlers = (hooks[event] ?? []).flatMap((g) => g.hooks).filter(isOurHook);
      assert.deepEqual(handlers, [hookHandler(COMMAND)], event);
    }
    assert.ok(command.changes.every((c) => c.startsWith("updated ")));
    // One of ours sharing a group with the user's hook: only ours moves out.
    const shared = JSON.stringify({
      hooks: {
        Stop: [
          {
            hooks: [
              { type: "command", command: "./notify.sh" },
              { type: "http", url: "http://old-host:3000/hook/claude" },
            ],
          },
        ],
      },
    });
    const fixed = JSON.parse(installHooks(shared, HTTP).after as string);
    assert.deepEqual(fixed.hooks.Stop, [
      { hooks: [{ type: "command", command: "./notify.sh" }] },
      { hooks: [OUR_HTTP] },
    ]);
  });

  it("--uninstall removes only ours, and the containers that held only ours", () => {
    const installed = installHooks(USER_SETTINGS, COMMAND).after;
    const removed = uninstallHooks(installed);
    assert.equal(removed.after, USER_SETTINGS);
    assert.equal(removed.changes.length, HOOK_EVENTS.length);
    // A file that held nothing else goes away.
    assert.equal(uninstallHooks(installHooks(null, HTTP).after).after, null);
    // A settings file without ours: untouched; no file: nothing to do.
    assert.deepEqual(uninstallHooks(USER_SETTINGS), {
      before: USER_SETTINGS,
      after: USER_SETTINGS,
      changes: [],
    });
    assert.deepEqual(uninstallHooks(null), { before: null, after: null, changes: [] });
    // Other settings stay when the hooks go.
    const other = '{\n  "model": "opus"\n}\n';
    assert.equal(uninstallHooks(installHooks(other, HTTP).after).after, other);
  });

  it("recognises ours by what they call, not by position", () => {
    assert.ok(isOurHook({ type: "http", url: "http://127.0.0.1:3000/hook/claude" }));
    assert.ok(isOurHook({ type: "http", url: "https://bench.example.com/hook/claude/" }));
    assert.ok(isOurHook({ type: "command", command: "npx claudebench hook" }));
    assert.ok(
      isOurHook({ type: "command", command: "node /opt/cb/bin/claudebench.js hook --url http://x:1" }),
    );
    assert.ok(!isOurHook({ type: "http", url: "http://127.0.0.1:3000/hook/pre_tool" }));
    assert.ok(!isOurHook({ type: "command", command: "./claudebench-hooks.sh" }));
    assert.ok(!isOurHook({ type: "command", command: "npx claudebench task list" }));
    assert.ok(!isOurHook("npx claudebench hook"));
  });

  it("refuses files it cannot merge, naming the problem", () => {
    assert.throws(
      () => installHooks("{ not json", HTTP, ".claude/settings.json"),
      (err: unknown) => {
        assert.ok(err instanceof InitError);
        assert.match(err.message, /^\.claude\/settings\.json is not valid JSON/);
        return true;
      },
    );
    assert.throws(() => installHooks("[]", HTTP), InitError);
    assert.throws(() => installHooks('{"hooks": []}', HTTP), /"hooks" is not an object/);
    assert.throws(() => installHooks('{"hooks": {"Stop": {}}}', HTTP), /hooks\.Stop is not an array/);
  });

  it("keeps tabs, a missing final newline and one-line containers as they were", () => {
    const tabs =
      '{\n\t"hooks": {\n\t\t"Stop": [{ "hooks": [{ "type": "command", "command": "say done" }] }]\n\t}\n}';
    const plan = installHooks(tabs, HTTP);
    assert.ok(plan.after && !plan.after.endsWith("\n"));
    assert.match(plan.after, /\n\t\t"PreToolUse": \[\n\t\t\t\{\n\t\t\t\t"matcher": "\*"/);
    assert.match(
      plan.after,
      /"Stop": \[\{ "hooks": \[\{ "type": "command", "command": "say done" \}\] \}, \{"hooks": /,
    );
    assert.equal(uninstallHooks(plan.after).after, tabs);
  });
});

describe("init: the MCP server", () => {
  it("adds claudebench next to the user's servers, keeping theirs byte for byte", () => {
    const plan = installMcp(USER_MCP, HTTP);
    assert.ok(plan.after);
    assert.equal(
      plan.after,
      USER_MCP.replace(
        '"."]\n    }\n',
        '"."]\n    },\n    "claudebench": {\n      "type": "http",\n      "url": "http://127.0.0.1:3000/mcp"\n    }\n',
      ),
    );
    assert.deepEqual(plan.changes, ["added MCP server claudebench"]);
    assert.deepEqual(installMcp(plan.after, HTTP).changes, []);
    assert.equal(uninstallMcp(plan.after).after, USER_MCP);
  });

  it("a new .mcp.json; with a token, headers by reference to the CLAUDEBENCH_TOKEN variable; a changed URL is updated", () => {
    const plan = installMcp(null, { ...HTTP, token: true });
    assert.equal(
      plan.after,
      pretty({
        mcpServers: {
          claudebench: {
            type: "http",
            url: "http://127.0.0.1:3000/mcp",
            headers: { Authorization: `Bearer \${CLAUDEBENCH_TOKEN}` },
          },
        },
      }),
    );
    const moved = installMcp(plan.after, { ...HTTP, url: "http://127.0.0.1:4000" });
    assert.deepEqual(moved.changes, ["updated MCP server claudebench"]);
    assert.deepEqual(JSON.parse(moved.after as string).mcpServers.claudebench, {
      type: "http",
      url: "http://127.0.0.1:4000/mcp",
    });
    assert.equal(uninstallMcp(plan.after).after, null);
    assert.deepEqual(uninstallMcp(USER_MCP).changes, []);
  });
});

describe("init: the diff --dry-run prints", () => {
  it("a unified diff with hunks and context, /dev/null for a new or deleted file, empty when equal", () => {
    const before = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n";
    const after = "a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nk\n";
    assert.equal(
      unifiedDiff("x.json", before, after),
      [
        "--- a/x.json",
        "+++ b/x.json",
        "@@ -1,5 +1,5 @@",
        " a",
        "-b",
        "+B",
        " c",
        " d",
        " e",
        "@@ -8,3 +8,4 @@",
        " h",
        " i",
        " j",
        "+k",
        "",
      ].join("\n"),
    );
    assert.equal(unifiedDiff("x.json", null, "{}\n"), "--- /dev/null\n+++ b/x.json\n@@ -0,0 +1,1 @@\n+{}\n");
    assert.equal(unifiedDiff("x.json", "{}\n", null), "--- a/x.json\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-{}\n");
    assert.equal(unifiedDiff("x.json", before, before), "");
  });
});
