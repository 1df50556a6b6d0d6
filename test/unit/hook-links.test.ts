import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AppError } from "../../src/core/errors.js";
import { ProjectPolicies } from "../../src/domain/policy/policy-file.js";
import { builtinLinks } from "../../src/extensions/hook-links/builtin-links.js";
import { HookChains } from "../../src/extensions/hook-links/chain.js";
import {
  defineHookLink,
  type HookLinkDefinition,
  type HookPoint,
  isHookLink,
} from "../../src/extensions/hook-links/link.js";

/** Defining, registering and ordering hook links (running them: test/integration/hook-chains.test.ts). */

const link = (name: string, priority: number, hook: HookPoint = "pre_tool") =>
  defineHookLink({ name, hook, priority, run: () => undefined });

const rejects = (def: Partial<HookLinkDefinition<HookPoint>>, message: RegExp) =>
  assert.throws(
    () => defineHookLink({ name: "team.ok", hook: "pre_tool", priority: 0, run: () => undefined, ...def }),
    (err: unknown) => err instanceof AppError && err.code === "VALIDATION" && message.test(err.message),
  );

describe("defineHookLink", () => {
  it("fills in the default time bound and brands the value for the plugin loader", () => {
    const made = link("team.audit", 5);
    assert.equal(made.timeoutMs, 1000);
    assert.equal(isHookLink(made), true);
    assert.equal(isHookLink({ ...made }), true, "the brand survives a spread (a plugin re-exporting it)");
    assert.equal(isHookLink({ name: "team.audit", hook: "pre_tool", priority: 5, run() {} }), false);
    assert.equal(isHookLink(null), false);
  });

  it("rejects a bad definition with a message naming the link and the problem", () => {
    rejects({ name: "NoDots" }, /"NoDots": the name must be lower-case dotted segments/);
    rejects({ hook: "pre_compact" as HookPoint }, /hook must be one of pre_tool, post_tool, user_prompt/);
    rejects({ priority: Number.NaN }, /priority must be a finite number/);
    rejects({ timeoutMs: 0 }, /timeoutMs must be a whole number of ms, 1\.\.60000/);
    rejects({ timeoutMs: 1.5 }, /timeoutMs/);
    rejects({ run: "no" as never }, /run must be a function/);
    rejects(
      { hook: "user_prompt", match: { tools: ["Bash"] } },
      /match\.tools does not apply to user_prompt/,
    );
    rejects({ match: { tools: [] } }, /match\.tools must be a non-empty list/);
  });

  it("match.tools are globs over the tool name", () => {
    const made = defineHookLink({
      name: "team.files",
      hook: "pre_tool",
      priority: 0,
      match: { tools: ["Write", "mcp__*__delete*"] },
      run: () => undefined,
    });
    const tools = made.tools as RegExp;
    assert.equal(tools.test("Write"), true);
    assert.equal(tools.test("mcp__github__delete_branch"), true);
    assert.equal(tools.test("WriteFile"), false);
    assert.equal(tools.test("Bash"), false);
  });
});

describe("HookChains", () => {
  it("orders each chain by priority, higher first, equal priorities by name — whatever the registration order", () => {
    const chains = new HookChains(builtinLinks(new ProjectPolicies(null, () => undefined)));
    for (const l of [link("team.b", 10), link("team.low", -5), link("team.a", 10), link("team.top", 99)]) {
      chains.register(l);
    }
    chains.register(link("team.prompt", 1, "user_prompt"));
    assert.deepEqual(
      chains.chain("pre_tool").map((l) => l.name),
      ["team.top", "team.a", "team.b", "builtin.policy", "team.low"],
    );
    assert.deepEqual(
      chains.chain("user_prompt").map((l) => l.name),
      ["team.prompt", "builtin.prompt"],
    );
    assert.deepEqual(chains.chain("post_tool"), []);
    assert.equal(chains.unregister("team.a"), true);
    assert.equal(chains.unregister("team.a"), false);
    assert.deepEqual(
      chains.chain("pre_tool").map((l) => l.name),
      ["team.top", "team.b", "builtin.policy", "team.low"],
    );
  });

  it("refuses a second link of the same name, a forged link, and removing a built-in one", () => {
    const chains = new HookChains(builtinLinks(new ProjectPolicies(null, () => undefined)));
    chains.register(link("team.audit", 0));
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return err instanceof AppError ? err.code : "not an AppError";
      }
      return "no error";
    };
    assert.equal(
      code(() => chains.register(link("team.audit", 3, "post_tool"))),
      "CONFLICT",
    );
    assert.equal(
      code(() => chains.register(link("builtin.policy", 3))),
      "CONFLICT",
    );
    assert.equal(
      code(() => chains.unregister("builtin.policy")),
      "CONFLICT",
    );
    assert.equal(
      code(() => chains.register({ name: "team.x" } as never)),
      "VALIDATION",
    );
  });
});
