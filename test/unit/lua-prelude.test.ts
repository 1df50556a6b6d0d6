import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { withPrelude } from "../../src/storage/lua-prelude.js";

const PRELUDE = `--[[ a prelude
local unused = 1 (inside the header comment: not a definition)
]]
local BASE, SOURCE = ARGV[1], ARGV[2]

-- a key under BASE
local function key(name) return BASE .. name end

-- never used by the scripts below
local function unrelated()
  return 'x'
end

local cache = {}

-- uses key and cache
local function read(id)
  -- a comment inside a function mentioning unrelated()
  if cache[id] then return cache[id] end

  cache[id] = redis.call('GET', key(id))
  return cache[id]
end
`;

/** The top-level definitions of a joined script, in order. */
const definitions = (lua: string) =>
  [...lua.matchAll(/^local (?:function (\w+)|([\w, ]+?)\s*=)/gm)].map((m) => m[1] ?? m[2]);

describe("withPrelude", () => {
  it("keeps the definitions a script uses and those they use, in the prelude's order", () => {
    const joined = withPrelude(PRELUDE, "return read(ARGV[3])");
    assert.deepEqual(definitions(joined), ["BASE, SOURCE", "key", "cache", "read"]);
    assert.ok(joined.endsWith("\nreturn read(ARGV[3])"));
  });

  it("keeps each definition whole, with the comments above it and blank lines inside it", () => {
    const joined = withPrelude(PRELUDE, "return read(ARGV[3])");
    assert.ok(joined.includes("-- uses key and cache\nlocal function read(id)"));
    assert.ok(joined.includes("  if cache[id] then return cache[id] end\n\n  cache[id] = "));
    assert.ok(!joined.includes("a prelude"), "the prelude's header comment is not sent");
  });

  it("always keeps the first definition (the common ARGV) and ignores names in comments", () => {
    const joined = withPrelude(PRELUDE, "-- unrelated() is not called\nreturn 1");
    assert.deepEqual(definitions(joined), ["BASE, SOURCE"]);
  });

  it("does not match a name inside a longer word", () => {
    const joined = withPrelude(PRELUDE, "local keys = 1\nreturn keys");
    assert.deepEqual(definitions(joined).slice(0, 1), ["BASE, SOURCE"]);
    assert.ok(!joined.includes("local function key("));
  });
});
