import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { RedisRpcClient } from "../../src/client/redis-rpc.js";
import type { JsonRpcFailure, JsonRpcSuccess } from "../../src/contract/jsonrpc.js";
import { builtinHandlers } from "../../src/handlers/index.js";
import { SECRET, testHandlers } from "../helpers/handlers.js";
import { connectMcp } from "../helpers/mcp.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";
import { post, rpc, startTestServer } from "../helpers/server.js";

type Server = Awaited<ReturnType<typeof startTestServer>>;

interface McpToolResult {
  isError?: boolean;
  structuredContent?: Record<string, unknown>;
  content: { type: string; text?: string }[];
}

/** The JSON in a tool result's first text block. */
function toolText(result: McpToolResult): unknown {
  const first = result.content[0];
  assert.equal(first?.type, "text");
  return JSON.parse(first?.text ?? "");
}

describe("one handler, four transports", () => {
  let redis: TestRedis;
  let server: Server;
  let mcp: Client;
  let redisRpc: RedisRpcClient;

  before(async () => {
    redis = await startTestRedis();
    server = await startTestServer({ redisUrl: redis.url, handlers: [...builtinHandlers, ...testHandlers] });
    mcp = await connectMcp(server.url, { "x-session-id": "mcp-session" });
    redisRpc = new RedisRpcClient(redis.url, server.config.keyPrefix);
  });

  after(async () => {
    await mcp?.close();
    await redisRpc?.close();
    await server?.close();
    await redis?.stop();
  });

  /** Calls `method` with `params` over JSON-RPC, HTTP, MCP and the Redis request stream. */
  async function callEverywhere(method: string, params: Record<string, unknown>) {
    const [jsonrpc, http, tool, stream] = await Promise.all([
      rpc(server.url, { jsonrpc: "2.0", id: 1, method, params }),
      post(server.url, `/${method.split(".").join("/")}`, params),
      mcp.callTool({ name: method.split(".").join("__"), arguments: params }) as Promise<McpToolResult>,
      redisRpc.call(method, params),
    ]);
    return { jsonrpc, http, tool, stream };
  }

  it("gives the same system.discover result everywhere", async () => {
    const { jsonrpc, http, tool, stream } = await callEverywhere("system.discover", { domain: "system" });
    assert.equal(jsonrpc.status, 200);
    const expected = (jsonrpc.body as JsonRpcSuccess).result as { methods: { name: string }[] };
    assert.deepEqual(
      expected.methods.map((m) => m.name).sort(),
      builtinHandlers
        .map((h) => h.name)
        .filter((name) => name.startsWith("system."))
        .sort(),
    );

    assert.equal(http.status, 200);
    assert.deepEqual(http.body, expected);

    assert.equal(tool.isError, undefined);
    assert.deepEqual(tool.structuredContent, expected);
    assert.deepEqual(toolText(tool), expected);

    assert.equal(stream.jsonrpc, "2.0");
    assert.deepEqual((stream as JsonRpcSuccess).result, expected);
  });

  it("gives the same result for a test handler everywhere", async () => {
    const params = { text: "héllo", n: 42, nested: { list: [1, "two", null] } };
    const { jsonrpc, http, tool, stream } = await callEverywhere("test.echo", params);
    assert.deepEqual(jsonrpc.body, { jsonrpc: "2.0", id: 1, result: params });
    assert.equal(http.status, 200);
    assert.deepEqual(http.body, params);
    assert.deepEqual(tool.structuredContent, params);
    assert.deepEqual((stream as JsonRpcSuccess).result, params);
  });

  it("maps a handler's AppError onto each transport", async () => {
    const { jsonrpc, http, tool, stream } = await callEverywhere("test.not_found", { id: "x1" });

    assert.equal(jsonrpc.status, 200);
    const rpcError = (jsonrpc.body as JsonRpcFailure).error;
    assert.equal(jsonrpc.body.id, 1);
    assert.equal(rpcError.code, -32004);
    assert.equal(rpcError.message, "Thing x1 not found");
    assert.deepEqual(rpcError.data, { code: "NOT_FOUND", id: "x1" });

    assert.equal(http.status, 404);
    assert.deepEqual(http.body, {
      error: { code: "NOT_FOUND", message: "Thing x1 not found", data: { id: "x1" } },
    });

    assert.equal(tool.isError, true);
    assert.equal(tool.structuredContent, undefined);
    assert.deepEqual(toolText(tool), {
      error: { message: "Thing x1 not found", code: "NOT_FOUND", id: "x1" },
    });

    assert.deepEqual(stream, { jsonrpc: "2.0", id: stream.id, error: rpcError });
  });

  it("turns an unexpected exception into INTERNAL without leaking it", async () => {
    const { jsonrpc, http, tool, stream } = await callEverywhere("test.crash", {});

    assert.deepEqual((jsonrpc.body as JsonRpcFailure).error, {
      code: -32603,
      message: "Internal error",
      data: { code: "INTERNAL" },
    });
    assert.equal(http.status, 500);
    assert.deepEqual(http.body, { error: { code: "INTERNAL", message: "Internal error" } });
    assert.equal(tool.isError, true);
    assert.deepEqual(toolText(tool), { error: { message: "Internal error", code: "INTERNAL" } });
    assert.deepEqual((stream as JsonRpcFailure).error, (jsonrpc.body as JsonRpcFailure).error);

    for (const answer of [jsonrpc.body, http.body, tool, stream]) {
      const text = JSON.stringify(answer);
      assert.ok(!text.includes(SECRET), `leaked the message: ${text}`);
      assert.ok(!text.includes("at "), `leaked a stack: ${text}`);
      assert.ok(!text.includes(".ts:"), `leaked a stack: ${text}`);
    }
  });

  it("answers an unknown method as not found on each transport", async () => {
    const json = await rpc(server.url, { jsonrpc: "2.0", id: 9, method: "test.nope" });
    assert.equal((json.body as JsonRpcFailure).error.code, -32601);
    const http = await post(server.url, "/test/nope", {});
    assert.equal(http.status, 404);
    assert.equal(http.body.error.code, "METHOD_NOT_FOUND");
    const stream = await redisRpc.call("test.nope");
    assert.equal((stream as JsonRpcFailure).error.code, -32601);
    await assert.rejects(mcp.callTool({ name: "test__nope", arguments: {} }), /Unknown tool/);
  });

  it("lists MCP tools named domain__action with object schemas and annotations", async () => {
    const { tools } = await mcp.listTools();
    const names = tools.map((t) => t.name);
    for (const name of [
      "system__health",
      "system__ping",
      "system__discover",
      "system__metrics",
      "test__echo",
      "test__not_found",
    ]) {
      assert.ok(names.includes(name), `missing tool ${name} in ${names.join(", ")}`);
    }
    for (const tool of tools) {
      assert.match(tool.name, /^[a-z][a-z0-9_]*(__[a-z][a-z0-9_]*)+$/);
      assert.ok(!tool.name.includes("."), tool.name);
      assert.equal(tool.inputSchema.type, "object", tool.name);
      assert.ok(tool.annotations, `${tool.name} has no annotations`);
      assert.equal(typeof tool.description, "string");
    }
    const health = tools.find((t) => t.name === "system__health");
    assert.equal(health?.annotations?.readOnlyHint, true);
    assert.equal(health?.outputSchema?.type, "object");
  });

  it("serves /openapi.json listing the handler routes", async () => {
    const res = await fetch(`${server.url}/openapi.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /application\/json/);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    assert.equal(doc.openapi, "3.1.0");
    const discover = doc.paths["/system/discover"]?.post as { operationId: string } | undefined;
    assert.equal(discover?.operationId, "system.discover");
    assert.ok(doc.paths["/system/health"]?.post);
    assert.ok(doc.paths["/test/echo"]?.post);
  });

  it("hands request metadata to the handler (the client address from the connection only)", async () => {
    const json = await rpc(server.url, {
      jsonrpc: "2.0",
      id: "m1",
      method: "test.meta",
      metadata: { sessionId: "rpc-session", correlationId: "c-1", ignored: 5, remoteAddress: "203.0.113.9" },
    });
    assert.deepEqual((json.body as JsonRpcSuccess).result, {
      meta: { sessionId: "rpc-session", correlationId: "c-1", remoteAddress: "127.0.0.1" },
      transport: "jsonrpc",
    });

    const http = await post(
      server.url,
      "/test/meta",
      {},
      { "x-session-id": "http-session", "x-instance-id": "w-7", "x-request-id": "req-9" },
    );
    assert.equal(http.status, 200);
    assert.deepEqual(http.body, {
      meta: { sessionId: "http-session", instanceId: "w-7", requestId: "req-9", remoteAddress: "127.0.0.1" },
      transport: "http",
    });

    const tool = (await mcp.callTool({ name: "test__meta", arguments: {} })) as McpToolResult;
    assert.deepEqual(tool.structuredContent, {
      meta: { sessionId: "mcp-session", remoteAddress: "127.0.0.1" },
      transport: "mcp",
    });

    const stream = await redisRpc.call("test.meta");
    assert.deepEqual((stream as JsonRpcSuccess).result, { meta: {}, transport: "events" });
  });
});
