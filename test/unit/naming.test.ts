import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  domainOf,
  fromHttpPath,
  fromToolName,
  isValidHandlerName,
  toHttpPath,
  toToolName,
} from "../../src/core/naming.js";

describe("naming", () => {
  const cases = [
    { name: "task.create", path: "/task/create", tool: "task__create", domain: "task" },
    {
      name: "system.batch.process",
      path: "/system/batch/process",
      tool: "system__batch__process",
      domain: "system",
    },
    { name: "hook.pre_tool", path: "/hook/pre_tool", tool: "hook__pre_tool", domain: "hook" },
  ];
  for (const c of cases) {
    it(`spells ${c.name} on every transport and back`, () => {
      assert.equal(isValidHandlerName(c.name), true);
      assert.equal(toHttpPath(c.name), c.path);
      assert.equal(fromHttpPath(c.path), c.name);
      assert.equal(toToolName(c.name), c.tool);
      assert.equal(fromToolName(c.tool), c.name);
      assert.equal(domainOf(c.name), c.domain);
    });
  }

  it("refuses names that would not map back", () => {
    for (const bad of ["task", "task.Create", "task.create.", "task/create", "task__create"]) {
      assert.equal(isValidHandlerName(bad), false, bad);
    }
  });
});
