import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Redis } from "ioredis";
import { auditEntry, type PendingAuditRecord, parseAuditEntry } from "../../src/domain/audit/record.js";
import { AuditStream } from "../../src/domain/audit/stream.js";
import { LuaScript } from "../../src/storage/lua-script.js";
import { uniquePrefix, useTestRedis } from "../helpers/redis.js";

/** appendAudit-1.lua on its own: one stream entry per record (its JSON), the cap kept; entries read back. */

const append = LuaScript.fromFile("appendAudit-1.lua");

const RECORD: PendingAuditRecord = {
  atMs: 1_795_532_000_000,
  method: "task.create",
  transport: "jsonrpc",
  outcome: "ok",
  target: "t-1",
  sessionId: null,
  instanceId: null,
  remoteAddress: "127.0.0.1",
  requestId: "srv:1",
  server: "srv",
  durationMs: 0.5,
};

describe("appendAudit", () => {
  let redis: Redis;
  useTestRedis((started) => ({ redis } = started));

  it("appends each record as its own entry, the record as JSON in the field r, in order", async () => {
    const stream = `${uniquePrefix("audit")}:audit`;
    const first = RECORD;
    const second: PendingAuditRecord = {
      ...first,
      method: "task.complete",
      outcome: "NOT_FOUND",
      target: "t-9",
      sessionId: "s-1",
      requestId: "srv:2",
    };
    assert.equal(await append.run(redis, [stream], [1000, auditEntry(first), auditEntry(second)]), 2);
    const entries = (await redis.xrange(stream, "-", "+")) as [string, string[]][];
    assert.deepEqual(
      entries.map(([, fields]) => fields[0]),
      ["r", "r"],
    );
    const read = entries.map((entry) => parseAuditEntry(entry));
    assert.deepEqual(
      read.map((r) => r && { method: r.method, outcome: r.outcome, target: r.target, session: r.sessionId }),
      [
        { method: "task.create", outcome: "ok", target: "t-1", session: null },
        { method: "task.complete", outcome: "NOT_FOUND", target: "t-9", session: "s-1" },
      ],
    );
    assert.equal(read[0]?.at, new Date(first.atMs).toISOString());
    assert.equal(await append.run(redis, [stream], [1000]), 0, "an empty batch appends nothing");
  });

  it("still reads entries written with one stream field per record field (before an upgrade)", async () => {
    const stream = `${uniquePrefix("audit")}:audit`;
    await redis.xadd(
      stream,
      "1795532000000-0",
      "method",
      "task.claim",
      "outcome",
      "ok",
      "target",
      "t-3",
      "ms",
      "1.5",
    );
    const [entry] = (await redis.xrange(stream, "-", "+")) as [string, string[]][];
    assert.ok(entry);
    const r = parseAuditEntry(entry);
    assert.equal(r?.method, "task.claim");
    assert.equal(r?.target, "t-3");
    assert.equal(r?.sessionId, null);
    assert.equal(r?.durationMs, 1.5);
    assert.equal(r?.at, new Date(1_795_532_000_000).toISOString(), "no time field: the entry id's time");
  });

  it("keeps the stream near its cap", async () => {
    const stream = `${uniquePrefix("audit")}:audit`;
    const batch = Array.from({ length: 500 }, () => JSON.stringify({ method: "task.update", outcome: "ok" }));
    for (let i = 0; i < 4; i++) await append.run(redis, [stream], [200, ...batch]);
    const length = await redis.xlen(stream);
    assert.ok(length >= 200 && length < 500, `length ${length}`);
  });
});

describe("AuditStream", () => {
  let redis: Redis;
  useTestRedis((started) => ({ redis } = started));

  it("query: matching records, newest first, up to the limit", async () => {
    const stream = `${uniquePrefix("audit")}:audit`;
    const base = RECORD;
    const records = [
      base,
      { ...base, method: "task.delete", target: "t-2", requestId: "srv:2" },
      { ...base, target: "t-3", requestId: "srv:3" },
    ];
    await append.run(redis, [stream], [1000, ...records.map(auditEntry)]);
    const audit = new AuditStream(redis, stream);
    const created = await audit.query({ method: "task.create", limit: 10 });
    assert.deepEqual(
      created.records.map((r) => r.target),
      ["t-3", "t-1"],
    );
    assert.equal(created.truncated, false);
    assert.deepEqual(
      (await audit.query({ limit: 1 })).records.map((r) => r.target),
      ["t-3"],
    );
  });
});
