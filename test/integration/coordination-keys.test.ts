import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import type { Redis } from "ioredis";
import {
  COORDINATION_KEY_FAMILIES,
  COORDINATION_KEYS,
  coordinationKeys,
  expandKeyNames,
} from "../../src/storage/coordination-keys.js";
import { createKeys } from "../../src/storage/keys.js";
import { withoutComments } from "../../src/storage/lua-prelude.js";
import {
  COORDINATION_SCRIPTS,
  coordinationLuaScripts,
  coordinationScriptSource,
} from "../../src/storage/scripts.js";
import { useTestRedis } from "../helpers/redis.js";

/**
 * The coordination key names are written once (storage/coordination-keys.ts): TypeScript builds
 * them from it, and the Lua scripts' `K.<name>` are written out from it when they are assembled.
 * These tests hold that: the names are the ones data in Redis already has, every name a script
 * uses is defined, no script spells a key itself, and Lua and TypeScript build the same strings.
 */

const LUA_DIR = new URL("../../src/storage/lua/", import.meta.url);
const readLua = (file: string) => readFileSync(new URL(file, LUA_DIR), "utf8");
const PRELUDE = readLua("coordination-prelude.lua");
const SCRIPT_FILES = COORDINATION_SCRIPTS.map((name) => `${name}-1.lua`);

const SINGLE_NAMES = Object.keys(COORDINATION_KEYS) as (keyof typeof COORDINATION_KEYS)[];
const FAMILY_NAMES = Object.keys(COORDINATION_KEY_FAMILIES) as (keyof typeof COORDINATION_KEY_FAMILIES)[];

/** The names as they were spelled before they had one definition (prefix "cb", member "m"). */
const NAMES_IN_REDIS: Record<string, string> = {
  base: "cb:{tasks}:",
  seq: "cb:{tasks}:seq",
  fence: "cb:{tasks}:fence",
  pending: "cb:{tasks}:pending",
  delayed: "cb:{tasks}:delayed",
  ttl: "cb:{tasks}:ttl",
  leases: "cb:{tasks}:leases",
  dead: "cb:{tasks}:dead",
  finished: "cb:{tasks}:finished",
  all: "cb:{tasks}:all",
  workers: "cb:{tasks}:workers",
  statWait: "cb:{tasks}:stat:wait",
  statRun: "cb:{tasks}:stat:run",
  events: "cb:{tasks}:events",
  instances: "cb:{tasks}:instances",
  instancesAll: "cb:{tasks}:instances:all",
  autoAssign: "cb:{tasks}:autoassign",
  leader: "cb:{tasks}:leader",
  leaderEpoch: "cb:{tasks}:leader:epoch",
  servers: "cb:{tasks}:servers",
  task: "cb:{tasks}:t:m",
  channel: "cb:{tasks}:pending:ch:m",
  status: "cb:{tasks}:st:m",
  worker: "cb:{tasks}:w:m",
  idempotency: "cb:{tasks}:idem:m",
  completionsInMinute: "cb:{tasks}:stat:done:m",
  failuresInMinute: "cb:{tasks}:stat:failed:m",
  instance: "cb:{tasks}:inst:m",
  instanceAlias: "cb:{tasks}:inst-alias:m",
  quorum: "cb:{tasks}:quorum:m",
  quorumResult: "cb:{tasks}:quorum:m:result",
  batch: "cb:{tasks}:batch:m",
  server: "cb:{tasks}:server:m",
  serverMetrics: "cb:{tasks}:metrics:m",
  todoList: "cb:{tasks}:todos:m",
  todoListLock: "cb:{tasks}:todos:m:lock",
};

/** Every `K.<name>` in Lua code outside comments. */
const keyNamesIn = (lua: string) =>
  new Set([...withoutComments(lua).matchAll(/\bK\.(\w+)/g)].map((m) => m[1]));

describe("coordination keys", () => {
  it("are byte for byte the names data in Redis already has", () => {
    const keys = createKeys("cb");
    const built: Record<string, string> = { base: keys.coordination.base };
    for (const name of SINGLE_NAMES) built[name] = keys.coordination[name];
    for (const name of FAMILY_NAMES) built[name] = keys.coordination[name]("m");
    assert.deepEqual(built, NAMES_IN_REDIS);
    assert.equal(keys.events(), NAMES_IN_REDIS.events);
  });

  it("name every key a coordination script uses: each script assembles, with no K left", () => {
    const defined = new Set<string>([...SINGLE_NAMES, ...FAMILY_NAMES]);
    for (const file of ["coordination-prelude.lua", ...SCRIPT_FILES]) {
      for (const name of keyNamesIn(readLua(file)))
        assert.ok(defined.has(name ?? ""), `${file} uses K.${name}`);
    }
    const scripts = coordinationLuaScripts();
    assert.equal(scripts.size, COORDINATION_SCRIPTS.length);
    for (const [name, script] of scripts) {
      assert.doesNotMatch(
        withoutComments(script.source),
        /\bK\b/,
        `${name} is sent with a K left in its code`,
      );
    }
  });

  it("fail the assembly of a script that uses a name TypeScript does not define, or misuses one", () => {
    assert.throws(
      () => coordinationScriptSource(PRELUDE, "return redis.call('GET', K.pendingg)"),
      /K\.pendingg is not a coordination key/,
    );
    assert.throws(() => expandKeyNames("return K.task"), /K\.task is a key family: K\.task\(member\)/);
    assert.throws(() => expandKeyNames("return K.pending(1)"), /K\.pending is one key/);
    assert.throws(() => expandKeyNames("return K.task(id"), /unclosed/);
  });

  it("are written out in code only, as one expression each", () => {
    const lua = [
      "-- K.nope in a comment",
      "local s = 'K.nope in a string'",
      "redis.call('ZADD', K.status(task.status or 'x(y)'), K.seq, K.quorumResult(K.task(id)))",
    ].join("\n");
    assert.equal(
      expandKeyNames(lua),
      [
        "-- K.nope in a comment",
        "local s = 'K.nope in a string'",
        "redis.call('ZADD', (BASE .. 'st:' .. (task.status or 'x(y)')), (BASE .. 'seq'), " +
          "(BASE .. 'quorum:' .. ((BASE .. 't:' .. (id))) .. ':result'))",
      ].join("\n"),
    );
  });

  it("are never spelled in Lua: no script builds a name from BASE or uses K other than by name", () => {
    for (const file of ["coordination-prelude.lua", ...SCRIPT_FILES]) {
      const code = withoutComments(readLua(file));
      const baseUses = code.match(/\bBASE\b/g) ?? [];
      const expected = file === "coordination-prelude.lua" ? 1 : 0; // the ARGV line that defines it
      assert.equal(baseUses.length, expected, `${file} uses BASE`);
      assert.doesNotMatch(code, /\bK\s*\[/, `${file} indexes K by a computed name`);
    }
  });

  it("have texts that are plain Lua string contents, with one member in each family", () => {
    for (const text of [...Object.values(COORDINATION_KEYS), ...Object.values(COORDINATION_KEY_FAMILIES)]) {
      assert.match(text, /^[\w:{}<>-]+$/, text);
    }
    for (const text of Object.values(COORDINATION_KEY_FAMILIES))
      assert.equal(text.split("<id>").length, 2, text);
  });
});

describe("coordination keys written out in Lua", () => {
  let redis: Redis;
  useTestRedis((started) => ({ redis } = started));

  it("builds in Redis the same names as TypeScript, for text and number members", async () => {
    const base = "agree:{tasks}:";
    // One Lua expression per name, in the form the scripts write: K.<name> or K.<name>(member).
    const text = SINGLE_NAMES.map((name) => `K.${name}`);
    const family = FAMILY_NAMES.map((name) => `K.${name}(ARGV[2]) .. '|' .. K.${name}(tonumber(ARGV[3]))`);
    const lua = `local BASE = ARGV[1]\nreturn {\n${expandKeyNames([...text, ...family].join(",\n"))}\n}`;
    const minute = 29_412_345;
    const fromLua = (await redis.eval(lua, 0, base, "member-1", minute)) as string[];
    const keys = coordinationKeys(base);
    const fromTs = [
      ...SINGLE_NAMES.map((name) => keys[name]),
      ...FAMILY_NAMES.map((name) => `${keys[name]("member-1")}|${keys[name](minute)}`),
    ];
    assert.deepEqual(fromLua, fromTs);
  });
});
