import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { COMMAND_RULES } from "../../src/domain/policy/builtin-rules.js";
import { defineHookLink } from "../../src/extensions/hook-links/link.js";
import { projectDir, removeProjectDirs } from "../helpers/project.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";
import { post, rpc, startTestServer } from "../helpers/server.js";

/**
 * `hook.policy` over HTTP: the rules and hook chain links in force for a project, as the
 * dashboard's Hooks view shows them — built-in rules (with what the project disables), the
 * project's .claudebench/policy.json rules, a broken file reported, and the links in run order.
 */

interface Rule {
  id: string;
  hook: string;
  decisions: string[];
  matches: string;
  source: string;
  active: boolean;
  reason?: string;
}
interface Answer {
  cwd: string | null;
  file: string | null;
  error: string | null;
  protectedBranches: string[];
  sudo: string;
  rules: Rule[];
  links: { name: string; hook: string; priority: number; tools: string[] | null; timeoutMs: number }[];
}

let redis: TestRedis;
before(async () => {
  redis = await startTestRedis();
});
after(async () => {
  await redis.stop();
  removeProjectDirs();
});

describe("hook.policy", () => {
  it("lists the built-in rules, the project's rules and the hook links in force", async () => {
    const audit = defineHookLink({
      name: "acme.audit_bash",
      hook: "pre_tool",
      priority: 10,
      match: { tools: ["Bash"] },
      timeoutMs: 250,
      run: () => undefined,
    });
    const server = await startTestServer({ redisUrl: redis.url, hookLinks: [audit] });
    try {
      // Without a project: the server's policy, here the defaults.
      const plain = (await rpc(server.url, { jsonrpc: "2.0", id: 1, method: "hook.policy", params: {} })).body
        .result as Answer;
      assert.equal(plain.cwd, null);
      assert.equal(plain.file, null);
      const rm = plain.rules.find((r) => r.id === "rm-critical");
      assert.deepEqual(rm && { ...rm, matches: undefined }, {
        id: "rm-critical",
        hook: "pre_tool",
        decisions: ["deny", "ask"],
        matches: undefined,
        source: "builtin",
        active: true,
      });
      // Every rule the engine can name is described.
      for (const r of COMMAND_RULES)
        assert.ok(
          plain.rules.some((x) => x.id === r.id),
          r.id,
        );
      assert.ok(plain.rules.every((r) => r.source === "builtin" && r.active));
      assert.deepEqual(
        plain.links.map((l) => [l.name, l.hook, l.priority, l.tools, l.timeoutMs]),
        [
          ["acme.audit_bash", "pre_tool", 10, ["Bash"], 250],
          ["builtin.policy", "pre_tool", 0, null, 1000],
          ["builtin.prompt", "user_prompt", 0, null, 1000],
        ],
      );

      // A project with its own policy file: its rules, the disabled built-ins, sudo kept.
      const cwd = projectDir(
        JSON.stringify({
          disable: ["git-destructive"],
          sudo: "keep",
          protectedBranches: ["release/*"],
          rules: [
            {
              id: "no-npm-publish",
              tool: "Bash",
              command: "npm publish*",
              decision: "deny",
              reason: "CI publishes",
            },
          ],
          prompt: [{ id: "no-prod", match: "production db", decision: "block", reason: "not from here" }],
        }),
      );
      const project = (await post(server.url, "/hook/policy", { cwd })).body as Answer;
      assert.equal(project.cwd, cwd);
      assert.equal(project.file, join(cwd, ".claudebench", "policy.json"));
      assert.equal(project.error, null);
      assert.deepEqual(project.protectedBranches, ["release/*"]);
      assert.equal(project.sudo, "keep");
      const byId = new Map(project.rules.map((r) => [r.id, r]));
      assert.equal(byId.get("git-destructive")?.active, false);
      assert.equal(byId.get("strip-sudo")?.active, false);
      assert.equal(byId.get("rm-critical")?.active, true);
      assert.deepEqual(byId.get("no-npm-publish"), {
        id: "no-npm-publish",
        hook: "pre_tool",
        decisions: ["deny"],
        matches: "tool Bash, command npm publish*",
        source: "project",
        active: true,
        reason: "CI publishes",
      });
      assert.deepEqual(byId.get("no-prod"), {
        id: "no-prod",
        hook: "user_prompt",
        decisions: ["block"],
        matches: "prompt /production db/i",
        source: "project",
        active: true,
        reason: "not from here",
      });

      // A file that does not validate: reported, and the defaults (no good version yet) stay in force.
      const broken = projectDir('{"rules": [{"id": "x", "decision": "maybe"}]}');
      const bad = (await post(server.url, "/hook/policy", { cwd: broken })).body as Answer;
      assert.match(bad.error ?? "", /policy\.json: .*decision/);
      assert.ok(bad.rules.every((r) => r.source === "builtin" && r.active));

      // Bad input is a typed error.
      const invalid = await post(server.url, "/hook/policy", { cwd: 42 });
      assert.equal(invalid.status, 400);
      assert.equal(invalid.body.error.code, "VALIDATION");
    } finally {
      await server.close();
    }
  });
});
