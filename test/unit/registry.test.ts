import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { defineHandler } from "../../src/core/handler.js";
import { Registry, RegistryError } from "../../src/core/registry.js";
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

describe("defineHandler", () => {
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
