import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { defineHandler, isHandler } from "../../src/core/handler.js";
import { Registry, type RegistryChange, RegistryError } from "../../src/core/registry.js";
import { builtinHandlers } from "../../src/handlers/index.js";

const handler = (name: string) =>
  defineHandler({
    name,
    description: "test",
    input: z.object({}),
    output: z.object({}),
    handle: async () => ({}),
  });

describe("Registry", () => {
  it("serves every handler of the list by name", () => {
    const registry = new Registry([handler("a.one"), handler("b.two.three")]);
    assert.equal(registry.get("a.one")?.name, "a.one");
    assert.equal(registry.get("b.two.three")?.name, "b.two.three");
    assert.equal(registry.get("a.two"), undefined);
    assert.deepEqual(
      registry.list().map((h) => h.name),
      ["a.one", "b.two.three"],
    );
  });

  it("rejects a name defined twice", () => {
    assert.throws(() => new Registry([handler("a.one"), handler("a.one")]), RegistryError);
  });

  for (const bad of [
    "nodot",
    "Task.create",
    "task.",
    ".create",
    "task..create",
    "task.cre-ate",
    "1task.x",
    "",
  ]) {
    it(`rejects the malformed name ${JSON.stringify(bad)}`, () => {
      assert.throws(() => new Registry([handler(bad)]), /must be lower-case "domain.action"/);
    });
  }

  it("accepts the built-in handlers", () => {
    const registry = new Registry(builtinHandlers);
    assert.ok(registry.get("system.health"));
    assert.ok(registry.get("system.discover"));
    assert.ok(registry.get("system.metrics"));
  });
});

describe("Registry: plugin handlers", () => {
  const plugin = (name: string, extra: { overrides?: true } = {}) => ({
    handler: defineHandler({
      ...extra,
      name,
      description: "p",
      input: z.object({}),
      output: z.object({}),
      handle: async () => ({}),
    }),
    source: `/plugins/${name}.ts`,
  });

  it("adds, replaces and removes plugin handlers, telling listeners what changed", () => {
    const registry = new Registry([handler("a.one")]);
    const seen: RegistryChange[] = [];
    registry.onChange((change) => seen.push(change));
    const first = plugin("p.one");
    registry.setPlugins([first]);
    assert.equal(registry.resolve("p.one"), first.handler);
    assert.equal(registry.sourceOf("p.one"), "/plugins/p.one.ts");
    assert.equal(registry.sourceOf("a.one"), undefined);
    registry.setPlugins([plugin("p.one"), plugin("p.two")]);
    registry.setPlugins([first]); // same handler again: nothing changes, nobody is told
    registry.setPlugins([]);
    assert.equal(registry.resolve("p.one"), undefined);
    assert.deepEqual(seen, [
      { added: ["p.one"], removed: [], changed: [] },
      { added: ["p.two"], removed: [], changed: ["p.one"] },
      { added: [], removed: ["p.two"], changed: ["p.one"] },
      { added: [], removed: ["p.one"], changed: [] },
    ]);
  });

  it("refuses a clash with a built-in unless the plugin declares it overrides it, and restores the built-in after", () => {
    const builtin = handler("a.one");
    const registry = new Registry([builtin]);
    assert.match(
      registry.problemWith(plugin("a.one").handler) ?? "",
      /built-in handler; declare overrides: true/,
    );
    assert.throws(() => registry.setPlugins([plugin("a.one")]), RegistryError);
    const override = plugin("a.one", { overrides: true });
    assert.equal(registry.problemWith(override.handler), null);
    registry.setPlugins([override]);
    assert.equal(registry.get("a.one"), override.handler);
    registry.setPlugins([]);
    assert.equal(registry.get("a.one"), builtin);
  });

  it("stops telling a listener once it unsubscribed", () => {
    const registry = new Registry([]);
    let calls = 0;
    const stop = registry.onChange(() => calls++);
    registry.setPlugins([plugin("p.one")]);
    stop();
    registry.setPlugins([]);
    assert.equal(calls, 1);
  });
});

describe("defineHandler", () => {
  it("brands what it makes, so a plugin loader recognises it", () => {
    assert.equal(isHandler(handler("a.b")), true);
    assert.equal(isHandler({ name: "a.b", handle: async () => ({}) }), false);
    assert.equal(isHandler(null), false);
  });

  it("exposes a handler on every transport unless told otherwise", () => {
    const h = handler("a.b");
    assert.deepEqual(h.expose, { jsonrpc: true, http: true, events: true, mcp: { annotations: {} } });
    assert.deepEqual(h.policy, {});
  });

  it("keeps a handler away from MCP when expose.mcp is false", () => {
    const h = defineHandler({
      name: "admin.reset",
      description: "x",
      input: z.object({}),
      output: z.object({}),
      expose: { mcp: false },
      handle: async () => ({}),
    });
    assert.equal(h.expose.mcp, false);
    assert.equal(h.expose.http, true);
  });
});
