import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { connectMcp } from "../helpers/mcp.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";
import { rpc, startTestServer } from "../helpers/server.js";

/** What a model sees of ClaudeBench through the real MCP SDK client. */

describe("MCP for models", () => {
  let redis: TestRedis;
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let client: Client;

  before(async () => {
    redis = await startTestRedis();
    server = await startTestServer({ redisUrl: redis.url });
    client = await connectMcp(server.url);
  });
  after(async () => {
    await client?.close();
    await server?.close();
    await redis?.stop();
  });

  it("lists tools with short descriptions, object input schemas and honest annotations", async () => {
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    for (const tool of tools) {
      assert.ok(Buffer.byteLength(tool.description ?? "") < 2048, `${tool.name} description under 2 KB`);
      assert.ok((tool.description ?? "").length > 30, `${tool.name} has a real description`);
      assert.equal(tool.inputSchema.type, "object", tool.name);
      assert.ok(tool.annotations, `${tool.name} has annotations`);
    }
    for (const readOnly of [
      "task__list",
      "task__get",
      "task__stats",
      "system__health",
      "system__instances",
    ]) {
      assert.equal(byName.get(readOnly)?.annotations?.readOnlyHint, true, readOnly);
    }
    assert.equal(byName.get("task__cancel")?.annotations?.destructiveHint, true);
    assert.equal(byName.get("task__create")?.annotations?.readOnlyHint, false);
    // the original ClaudeBench offered these; each may destroy or take away what others rely on
    for (const destructive of [
      "task__delete",
      "task__unassign",
      "system__batch__process",
      "system__check_health",
    ]) {
      assert.deepEqual(
        byName.get(destructive)?.annotations,
        { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
        destructive,
      );
    }
    // admin and hook plumbing stay away from models
    for (const hidden of ["system__subscriptions__drop", "hook__pre_tool", "hook__claude"]) {
      assert.equal(byName.has(hidden), false, `${hidden} is not offered to models`);
    }
  });

  it("runs the original's tools: task__unassign, task__delete, system__check_health, system__batch__process", async () => {
    const created = await client.callTool({ name: "task__create", arguments: { text: "take me back" } });
    const { id } = created.structuredContent as { id: string };
    await client.callTool({ name: "task__assign", arguments: { taskId: id, instanceId: "model-9" } });
    const unassigned = await client.callTool({ name: "task__unassign", arguments: { taskId: id } });
    assert.deepEqual(
      [
        (unassigned.structuredContent as { previousAssignment: string }).previousAssignment,
        (unassigned.structuredContent as { task: { status: string } }).task.status,
      ],
      ["model-9", "pending"],
    );
    const deleted = await client.callTool({ name: "task__delete", arguments: { id } });
    assert.equal((deleted.structuredContent as { deleted: boolean }).deleted, true);
    const gone = await client.callTool({ name: "task__get", arguments: { id } });
    assert.equal(gone.isError, true);

    const health = await client.callTool({ name: "system__check_health", arguments: {} });
    assert.ok(Array.isArray((health.structuredContent as { healthy: string[] }).healthy));

    const batch = await client.callTool({
      name: "system__batch__process",
      arguments: {
        batchId: "mcp-batch-1",
        instanceId: "model-9",
        items: [1, 2, 3],
        processor: "system.ping",
      },
    });
    assert.deepEqual(
      [
        (batch.structuredContent as { status: string; itemsProcessed: number }).status,
        (batch.structuredContent as { itemsProcessed: number }).itemsProcessed,
      ],
      ["completed", 3],
    );
  });

  // A processor is called through the pipeline as a nested call, past the transports' exposure:
  // without a check, a model could reach every method kept from MCP this way.
  it("system__batch__process calls only processors the model could call itself", async () => {
    // hook.* methods the server does not know are accepted by a catch-all kept from MCP: any params do
    for (const processor of ["hook.batch_probe", "hook.claude", "no.such_method"]) {
      const refused = await client.callTool({
        name: "system__batch__process",
        arguments: { batchId: `mcp-batch-${processor}`, instanceId: "model-9", items: [{}], processor },
      });
      assert.equal(refused.isError, true, processor);
      assert.match(
        (refused.content as { text: string }[])[0]?.text ?? "",
        /processor: no method [a-z._]+ that this caller may call.*VALIDATION/,
        processor,
      );
    }
    const { body } = await rpc(server.url, {
      jsonrpc: "2.0",
      id: 1,
      method: "system.batch.process",
      params: { batchId: "rpc-batch", instanceId: "w-1", items: [1], processor: "system.subscriptions" },
    });
    assert.equal(body.result?.status, "completed", "over JSON-RPC every method is the caller's to call");
  });

  it("runs a task's life through task__create, task__claim and task__complete", async () => {
    const created = await client.callTool({
      name: "task__create",
      arguments: { text: "review the PR", priority: "high" },
    });
    const task = created.structuredContent as { id: string; priority: number; status: string };
    assert.equal(task.status, "pending");
    assert.equal(task.priority, 75);

    const claimed = await client.callTool({ name: "task__claim", arguments: { workerId: "model-1" } });
    const claim = claimed.structuredContent as { claimed: boolean; taskId: string; token: number };
    assert.equal(claim.claimed, true);
    assert.equal(claim.taskId, task.id);
    assert.ok(claim.token > 0);

    const completed = await client.callTool({
      name: "task__complete",
      arguments: { id: task.id, workerId: "model-1", token: claim.token, result: { lgtm: true } },
    });
    assert.equal((completed.structuredContent as { status: string }).status, "completed");

    const again = await client.callTool({
      name: "task__complete",
      arguments: { id: task.id, workerId: "model-1", token: claim.token },
    });
    assert.equal(again.isError, true, "a second completion is an error result the model can read");
    const text = (again.content as { text: string }[])[0]?.text ?? "";
    assert.match(text, /LEASE_LOST/);
  });

  it("offers resources: pending tasks, queue stats, instances, and a worker's tasks by template", async () => {
    const { resources } = await client.listResources();
    assert.deepEqual(resources.map((r) => r.uri).sort(), [
      "claudebench://instances",
      "claudebench://tasks/pending",
      "claudebench://tasks/stats",
    ]);
    const { resourceTemplates } = await client.listResourceTemplates();
    assert.equal(resourceTemplates[0]?.uriTemplate, "claudebench://tasks/assigned/{workerId}");

    await client.callTool({ name: "task__create", arguments: { text: "waiting one", priority: 10 } });
    await client.callTool({ name: "task__create", arguments: { text: "held one", priority: 90 } });
    await client.callTool({ name: "task__claim", arguments: { workerId: "model-2" } });

    const pending = await client.readResource({ uri: "claudebench://tasks/pending" });
    const pendingTasks = JSON.parse((pending.contents[0] as { text: string }).text).tasks as {
      text: string;
    }[];
    assert.deepEqual(
      pendingTasks.map((t) => t.text),
      ["waiting one"],
    );
    const held = await client.readResource({ uri: "claudebench://tasks/assigned/model-2" });
    const heldTasks = JSON.parse((held.contents[0] as { text: string }).text).tasks as { text: string }[];
    assert.deepEqual(
      heldTasks.map((t) => t.text),
      ["held one"],
    );
    await assert.rejects(client.readResource({ uri: "claudebench://nope" }), /Unknown resource/);
  });

  // The SDK answered these -32603 (internal error) with Zod's issues as the message, and a
  // malformed escape in a worker's resource URI threw a URIError (found by the fuzz test).
  it("answers malformed requests -32602 (invalid params), never -32603 (internal error)", async () => {
    const malformed: [string, unknown][] = [
      ["tools/call", { name: 5 }],
      ["tools/call", { name: "task__create", arguments: [] }],
      ["tools/call", { name: "task__create", arguments: "text" }],
      ["initialize", {}],
      ["resources/list", { cursor: 5 }],
      ["resources/read", { uri: null }],
      ["resources/read", { uri: "claudebench://tasks/assigned/%E0%A4%A" }],
    ];
    for (const [method, params] of malformed) {
      const res = await fetch(`${server.url}/mcp`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 7, method, params }),
      });
      const body = (await res.json()) as { id: number; error?: { code: number; message: string } };
      assert.equal(body.error?.code, -32602, `${method} ${JSON.stringify(params)}: ${JSON.stringify(body)}`);
      assert.equal(body.id, 7);
    }
    const { tools } = await client.listTools();
    assert.ok(tools.length > 0, "the client still works");
  });

  // This server declares no tasks capability; such a receiver "MUST process requests of that
  // type normally, ignoring any task-augmentation metadata" (MCP 2025-11-25). The SDK answered -32603.
  it("runs a tools/call that asks to be a task as a plain call (no tasks capability), never -32603", async () => {
    const result = await client.request(
      {
        method: "tools/call",
        params: { name: "task__create", arguments: { text: "asked as a task" }, task: { ttl: 60_000 } },
      },
      CallToolResultSchema,
    );
    assert.equal((result.structuredContent as { text: string }).text, "asked as a task");
    for (const task of [{}, "soon"]) {
      const res = await fetch(`${server.url}/mcp`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/list", params: { task } }),
      });
      const body = (await res.json()) as { result?: { tools: unknown[] }; error?: unknown };
      assert.ok(
        body.result?.tools.length,
        `tools/list with task ${JSON.stringify(task)}: ${JSON.stringify(body.error)}`,
      );
    }
  });

  it("answers a session this process does not know with its own code, not the original's CIRCUIT_OPEN", async () => {
    const res = await fetch(`${server.url}/mcp`, {
      headers: { accept: "text/event-stream", "mcp-session-id": "no-such-session" },
    });
    assert.equal(res.status, 404);
    const body = (await res.json()) as { error: { code: number; data: { code: string } } };
    assert.deepEqual([body.error.code, body.error.data.code], [-32012, "SESSION_NOT_FOUND"]);
    const get = await fetch(`${server.url}/mcp`, { headers: { accept: "text/event-stream" } });
    assert.equal(get.status, 405);
    assert.equal(((await get.json()) as { error: { code: number } }).error.code, -32600);
  });
});
