import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resultFromOutput, TEXT_MAX_CHARS } from "../../src/client/task-result.js";
import { FREE_FORM_MAX_BYTES } from "../../src/core/json-bounds.js";

/** A command's stdout as its task's result: always one task.complete takes (256 KiB as JSON, 63 levels). */

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

describe("resultFromOutput", () => {
  it("passes JSON through, wraps text, and gives nothing for no output", () => {
    assert.deepEqual(resultFromOutput('  {"answer":42}\n'), { answer: 42 });
    assert.equal(resultFromOutput("null"), null);
    assert.deepEqual(resultFromOutput("all done\n"), { stdout: "all done" });
    assert.equal(resultFromOutput(" \n"), undefined);
  });

  it("keeps JSON up to the limit whole", () => {
    const json = JSON.stringify({ s: "é".repeat((FREE_FORM_MAX_BYTES - 100) / 2) });
    assert.ok(Buffer.byteLength(json) <= FREE_FORM_MAX_BYTES);
    assert.deepEqual(resultFromOutput(json), JSON.parse(json));
  });

  it("sends JSON over the limit as the end of its text, marked truncated", () => {
    const json = JSON.stringify({ s: `${"x".repeat(FREE_FORM_MAX_BYTES)}THE END` });
    const result = resultFromOutput(json) as { stdout: string; truncated: boolean };
    assert.equal(result.truncated, true);
    assert.ok(result.stdout.endsWith('THE END"}'));
    assert.equal(result.stdout.length, TEXT_MAX_CHARS);
  });

  it("sends JSON nested deeper than a call may carry as text", () => {
    const deep = `${"[".repeat(64)}${"]".repeat(64)}`;
    assert.deepEqual(resultFromOutput(deep), { stdout: deep });
    const fine = `${"[".repeat(63)}${"]".repeat(63)}`;
    assert.deepEqual(resultFromOutput(fine), JSON.parse(fine));
  });

  it("cuts text to its last 64 Ki characters", () => {
    const result = resultFromOutput(`${"a".repeat(TEXT_MAX_CHARS)}tail`) as { stdout: string };
    assert.deepEqual(result, { stdout: `${"a".repeat(TEXT_MAX_CHARS - 4)}tail`, truncated: true });
  });

  it("cuts text whose characters escape to several bytes so that it fits the limit", () => {
    // a control character is 6 bytes as JSON (\u0001): 64 Ki of them were 384 KiB, refused
    for (const unit of ["\u0001", "\u0001\u0002é"]) {
      const result = resultFromOutput(`${unit.repeat(TEXT_MAX_CHARS)}END`) as {
        stdout: string;
        truncated: boolean;
      };
      assert.equal(result.truncated, true);
      assert.ok(bytes(result) <= FREE_FORM_MAX_BYTES, `${JSON.stringify(unit)}: ${bytes(result)} bytes`);
      assert.ok(bytes(result) > FREE_FORM_MAX_BYTES - 8, `${JSON.stringify(unit)}: cut more than needed`);
      assert.ok(result.stdout.endsWith("END"));
    }
  });

  it("does not start a cut text with half of a surrogate pair", () => {
    // 65,533 UTF-16 units of emoji before END: the cut falls inside a pair
    const result = resultFromOutput(`${"😀".repeat(TEXT_MAX_CHARS)}END`) as { stdout: string };
    assert.equal(result.stdout.length, TEXT_MAX_CHARS - 1);
    assert.ok(result.stdout.startsWith("😀"));
    assert.ok(result.stdout.endsWith("😀END"));
  });

  it("sends output whose beginning was dropped as its end, even when that end looks like JSON", () => {
    assert.deepEqual(resultFromOutput('{"a":1}', true), { stdout: '{"a":1}', truncated: true });
  });
});
