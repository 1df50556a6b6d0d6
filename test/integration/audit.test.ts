import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import pg from "pg";
import type { AuditRecord } from "../../src/domain/audit/record.js";
import type { TaskDatabase } from "../../src/domain/history/task-database.js";
import { connectMcp } from "../helpers/mcp.js";
import { POSTGRES_SKIP, startTestPostgres, type TestPostgres } from "../helpers/postgres.js";
import { startTestRedis, type TestRedis, uniquePrefix } from "../helpers/redis.js";
import { post, rpc, startTestServer } from "../helpers/server.js";

/**
 * The audit trail end to end: state-changing calls over HTTP, JSON-RPC and MCP are recorded
 * with who, method, target and outcome (failures too), read-only calls are not; system.audit
 * filters them; with a database every record lands in audit_log exactly once.
 */

type Server = Awaited<ReturnType<typeof startTestServer>>;
interface AuditAnswer {
  records: AuditRecord[];
  source: "database" | "stream";
  truncated: boolean;
}

let rpcId = 0;
async function audit(server: Server, params: Record<string, unknown> = {}): Promise<AuditAnswer> {
  const res = await rpc(server.url, { jsonrpc: "2.0", id: ++rpcId, method: "system.audit", params });
  assert.ok(res.body.result, JSON.stringify(res.body));
  return res.body.result as AuditAnswer;
}

/** Polls system.audit until `done` holds (records are flushed every ~200 ms, persisted after). */
async function auditUntil(
  server: Server,
  params: Record<string, unknown>,
  done: (a: AuditAnswer) => boolean,
  timeoutMs = 30_000,
): Promise<AuditAnswer> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await audit(server, params);
    if (done(answer)) return answer;
    if (Date.now() > deadline) assert.fail(`audit ${JSON.stringify(params)}: last ${JSON.stringify(answer)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The calls every scenario makes; returns what the audit must show. */
async function makeCalls(server: Server, mcp: Client | null) {
  const startedAt = Date.now();
  const created = await post(
    server.url,
    "/task/create",
    { text: "audited" },
    { "x-session-id": "s-http", "x-request-id": "req-create" },
  );
  assert.equal(created.status, 200);
  const taskId = created.body.id as string;
  const missing = await rpc(server.url, {
    jsonrpc: "2.0",
    id: ++rpcId,
    method: "task.complete",
    params: { id: "t-999999", workerId: "w-1" },
    metadata: { sessionId: "s-rpc", instanceId: "i-rpc" },
  });
  assert.equal(missing.body.error.data.code, "NOT_FOUND");
  const registered = await rpc(server.url, {
    jsonrpc: "2.0",
    id: ++rpcId,
    method: "system.register",
    params: { id: "agent-audit", roles: ["worker"] },
    metadata: { sessionId: "s-rpc", correlationId: "corr-reg" },
  });
  assert.equal(registered.body.result.registered, true);
  // read-only calls, and a call refused before it reached the handler: none is audited
  assert.equal((await post(server.url, "/task/get", { id: taskId })).status, 200);
  assert.equal((await post(server.url, "/task/list", {})).status, 200);
  assert.equal((await post(server.url, "/system/ping", {})).status, 200);
  assert.equal((await post(server.url, "/task/create", { text: "" })).status, 400);
  if (mcp) {
    const tool = (await mcp.callTool({
      name: "task__update",
      arguments: { id: taskId, updates: { priority: 80 } },
    })) as {
      isError?: boolean;
    };
    assert.ok(!tool.isError);
  }
  return { taskId, startedAt, expected: mcp ? 4 : 3 };
}

describe("audit trail on the capped stream (no database)", () => {
  let redis: TestRedis;
  let server: Server;
  let mcp: Client;
  let calls: Awaited<ReturnType<typeof makeCalls>>;

  before(async () => {
    redis = await startTestRedis();
    server = await startTestServer({ redisUrl: redis.url, overrides: { dbMode: "none" } });
    mcp = await connectMcp(server.url, { "x-session-id": "s-mcp" });
    calls = await makeCalls(server, mcp);
  });

  after(async () => {
    await mcp?.close();
    await server?.close();
    await redis?.stop();
  });

  it("records who, method, target and outcome of every state-changing call, newest first", async () => {
    const { records, source, truncated } = await auditUntil(
      server,
      {},
      (a) => a.records.length >= calls.expected,
    );
    assert.equal(source, "stream");
    assert.equal(truncated, false);
    const view = records.map((r) => ({
      method: r.method,
      transport: r.transport,
      outcome: r.outcome,
      target: r.target,
      sessionId: r.sessionId,
      instanceId: r.instanceId,
      remoteAddress: r.remoteAddress,
    }));
    assert.deepEqual(view, [
      {
        method: "task.update",
        transport: "mcp",
        outcome: "ok",
        target: calls.taskId,
        sessionId: "s-mcp",
        instanceId: null,
        remoteAddress: "127.0.0.1",
      },
      {
        method: "system.register",
        transport: "jsonrpc",
        outcome: "ok",
        target: "agent-audit",
        sessionId: "s-rpc",
        instanceId: null,
        remoteAddress: "127.0.0.1",
      },
      {
        method: "task.complete",
        transport: "jsonrpc",
        outcome: "NOT_FOUND",
        target: "t-999999",
        sessionId: "s-rpc",
        instanceId: "i-rpc",
        remoteAddress: "127.0.0.1",
      },
      {
        method: "task.create",
        transport: "http",
        outcome: "ok",
        target: calls.taskId,
        sessionId: "s-http",
        instanceId: null,
        remoteAddress: "127.0.0.1",
      },
    ]);
    const [update, register, , create] = records as [AuditRecord, AuditRecord, AuditRecord, AuditRecord];
    assert.equal(create.requestId, "req-create");
    assert.equal(register.requestId, "corr-reg");
    assert.match(update.requestId, new RegExp(`^${server.instanceId}:\\d+$`));
    for (const r of records) {
      assert.equal(r.server, server.instanceId);
      assert.ok(Date.parse(r.at) >= calls.startedAt - 1000 && Date.parse(r.at) <= Date.now());
      assert.ok(r.durationMs >= 0 && r.durationMs < 10_000);
    }
  });

  it("filters by method, actor, target, outcome and since, and limits", async () => {
    const ids = (a: AuditAnswer) => a.records.map((r) => r.method);
    assert.deepEqual(ids(await audit(server, { method: "task.complete" })), ["task.complete"]);
    assert.deepEqual(ids(await audit(server, { actor: "s-rpc" })), ["system.register", "task.complete"]);
    assert.deepEqual(ids(await audit(server, { actor: "i-rpc" })), ["task.complete"]);
    assert.equal((await audit(server, { actor: "127.0.0.1" })).records.length, 4);
    assert.deepEqual(ids(await audit(server, { target: calls.taskId })), ["task.update", "task.create"]);
    assert.deepEqual(ids(await audit(server, { outcome: "NOT_FOUND" })), ["task.complete"]);
    assert.deepEqual(ids(await audit(server, { limit: 1 })), ["task.update"]);
    assert.equal(
      (await audit(server, { since: new Date(Date.now() + 60_000).toISOString() })).records.length,
      0,
    );
    assert.equal((await audit(server, { since: calls.startedAt - 1000 })).records.length, 4);
    const bad = await rpc(server.url, {
      jsonrpc: "2.0",
      id: 1,
      method: "system.audit",
      params: { limit: 1001 },
    });
    assert.equal(bad.body.error.data.code, "VALIDATION");
  });

  it("does not audit read-only calls, the audit query itself included", async () => {
    await audit(server);
    await new Promise((r) => setTimeout(r, 500)); // past a flush interval
    const methods = new Set((await audit(server, { limit: 1000 })).records.map((r) => r.method));
    assert.deepEqual([...methods].sort(), ["system.register", "task.complete", "task.create", "task.update"]);
  });
});

describe("audit trail in the database", () => {
  describe("PGlite", () => {
    let redis: TestRedis;
    let dataDir: string;
    let server: Server;

    before(async () => {
      redis = await startTestRedis();
      dataDir = mkdtempSync(join(tmpdir(), "cb-test-audit-"));
      server = await startTestServer({ redisUrl: redis.url, overrides: { dbMode: "pglite", dataDir } });
    });

    after(async () => {
      await server?.close();
      await redis?.stop();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    it("system.audit reads audit_log; each record lands once, and replaying changes nothing", async () => {
      const calls = await makeCalls(server, null);
      const answer = await auditUntil(
        server,
        {},
        (a) => a.source === "database" && a.records.length >= 3,
        90_000,
      );
      assert.deepEqual(
        answer.records.map((r) => [r.method, r.outcome, r.target]),
        [
          ["system.register", "ok", "agent-audit"],
          ["task.complete", "NOT_FOUND", "t-999999"],
          ["task.create", "ok", calls.taskId],
        ],
      );
      const database = server.dispatcher.services.database as TaskDatabase;
      await database.applyAudit(answer.records);
      const replayed = await database.queryAudit({ limit: 1000 });
      assert.deepEqual(replayed, answer.records);
    });
  });

  describe("PostgreSQL", { skip: POSTGRES_SKIP }, () => {
    let redis: TestRedis;
    let postgres: TestPostgres;
    let server: Server;
    let pool: pg.Pool;

    before(async () => {
      if (POSTGRES_SKIP) return;
      [redis, postgres] = await Promise.all([startTestRedis(), startTestPostgres()]);
      const url = await postgres.createDatabase("audit");
      server = await startTestServer({
        redisUrl: redis.url,
        keyPrefix: uniquePrefix("audit"),
        overrides: { databaseUrl: url },
      });
      pool = new pg.Pool({ connectionString: url, max: 1 });
    });

    after(async () => {
      await server?.close();
      await pool?.end();
      await postgres?.destroy();
      await redis?.stop();
    });

    it("writes every record to audit_log exactly once", async () => {
      const calls = await makeCalls(server, null);
      const rows = async () =>
        (
          await pool
            .query(
              "select method, outcome, target, session_id, instance_id, remote_address, request_id from audit_log order by event_ms, event_seq",
            )
            .catch(() => ({ rows: [] }))
        ).rows;
      const deadline = Date.now() + 60_000;
      while ((await rows()).length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 500)); // a duplicate would arrive within a flush and a batch
      const final = await rows();
      assert.deepEqual(
        final.map((r) => [r.method, r.outcome, r.target, r.session_id, r.instance_id, r.remote_address]),
        [
          ["task.create", "ok", calls.taskId, "s-http", null, "127.0.0.1"],
          ["task.complete", "NOT_FOUND", "t-999999", "s-rpc", "i-rpc", "127.0.0.1"],
          ["system.register", "ok", "agent-audit", "s-rpc", null, "127.0.0.1"],
        ],
      );
      assert.equal(final[0].request_id, "req-create");
      const answer = await audit(server, { method: "task.complete" });
      assert.equal(answer.source, "database");
      assert.equal(answer.records.length, 1);
    });
  });
});
