import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { keySafeId, toKeySafeId } from "../../src/core/ids.js";

/** The alphabet of ids that become part of Redis key names (src/core/ids.ts). */

describe("keySafeId", () => {
  it("accepts 1 to max letters, digits and . _ : @ / -", () => {
    assert.equal(keySafeId().test("agent-1.worker_2:alice@host/x"), true);
    assert.equal(keySafeId().test("a".repeat(128)), true);
    assert.equal(keySafeId().test("a".repeat(129)), false);
    assert.equal(keySafeId(200).test("a".repeat(200)), true);
    assert.equal(keySafeId(200).test("a".repeat(201)), false);
    assert.equal(keySafeId().test(""), false);
  });

  it("refuses spaces, globs, control characters and anything else", () => {
    for (const id of ["a b", "a*", "a?", "a[1]", "a\nb", "a,b", "é", "a\\b"])
      assert.equal(keySafeId().test(id), false, JSON.stringify(id));
  });

  it("has the source the tool schemas publish as their pattern", () => {
    assert.equal(keySafeId().source, "^[A-Za-z0-9._:@/-]{1,128}$");
  });
});

describe("toKeySafeId", () => {
  it("replaces every other character by _ and cuts to max", () => {
    assert.equal(toKeySafeId("my project (2)", 128), "my_project__2_");
    assert.equal(toKeySafeId("abcdef", 3), "abc");
    assert.equal(keySafeId().test(toKeySafeId("a b*c\n", 128)), true);
  });

  it("leaves a key-safe id as it is, on every call (no state kept between calls)", () => {
    assert.equal(toKeySafeId("a b", 128), "a_b");
    assert.equal(toKeySafeId("c d", 128), "c_d");
    assert.equal(toKeySafeId("t-42/x", 128), "t-42/x");
  });
});
