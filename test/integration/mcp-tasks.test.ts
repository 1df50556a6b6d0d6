import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { connectMcp } from "../helpers/mcp.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";
import { startTestServer } from "../helpers/server.js";

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
    // admin, destructive-in-bulk and hook plumbing stay away from models
    for (const hidden of [
      "task__delete",
      "task__unassign",
      "system__batch__process",
      "system__check_health",
      "hook__pre_tool",
      "hook__claude",
    ]) {
      assert.equal(byName.has(hidden), false, `${hidden} is not offered to models`);
    }
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
});
