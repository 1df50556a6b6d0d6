import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { connectMcp } from "../helpers/mcp.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";
import { post, rpc, startTestServer } from "../helpers/server.js";

type Server = Awaited<ReturnType<typeof startTestServer>>;

const TOKEN = "integration-test-token-0123456789";
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const PING = { jsonrpc: "2.0", id: 1, method: "system.ping" };
const INITIALIZE = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "0" } },
};

async function postMcp(baseUrl: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${baseUrl}/mcp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...headers,
    },
    body: JSON.stringify(INITIALIZE),
  });
  await res.body?.cancel();
  return res.status;
}

describe("bearer-token authentication", () => {
  let redis: TestRedis;
  let secured: Server;
  let open: Server;

  before(async () => {
    redis = await startTestRedis();
    [secured, open] = await Promise.all([
      startTestServer({ redisUrl: redis.url, authToken: TOKEN }),
      startTestServer({ redisUrl: redis.url }),
    ]);
  });

  after(async () => {
    await Promise.all([secured?.close(), open?.close()]);
    await redis?.stop();
  });

  describe("with a token configured", () => {
    it("refuses /rpc without the header: 401 and JSON-RPC error -32002", async () => {
      const res = await rpc(secured.url, PING);
      assert.equal(res.status, 401);
      assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer /);
      assert.equal(res.body.jsonrpc, "2.0");
      assert.equal(res.body.id, null);
      assert.equal(res.body.error.code, -32002);
      assert.equal(res.body.error.data.code, "UNAUTHORIZED");
      const batch = await rpc(secured.url, [PING], {});
      assert.equal(batch.status, 401);
    });

    it("refuses a wrong token and a malformed header", async () => {
      for (const authorization of [`Bearer ${TOKEN}x`, "Bearer short", `Basic ${TOKEN}`, TOKEN, "Bearer "]) {
        const res = await rpc(secured.url, PING, { authorization });
        assert.equal(res.status, 401, authorization);
        assert.equal(res.body.error.code, -32002, authorization);
      }
    });

    it("serves /rpc with the right token", async () => {
      const res = await rpc(secured.url, PING, bearer(TOKEN));
      assert.equal(res.status, 200);
      assert.equal(res.body.result.pong, true);
    });

    it("refuses handler routes without the token, with the HTTP error body", async () => {
      const res = await post(secured.url, "/system/health", {});
      assert.equal(res.status, 401);
      assert.equal(res.body.error.code, "UNAUTHORIZED");
      assert.equal(typeof res.body.error.message, "string");
      const wrong = await post(secured.url, "/system/health", {}, bearer("not-the-right-token-at-all"));
      assert.equal(wrong.status, 401);
      const right = await post(secured.url, "/system/health", {}, bearer(TOKEN));
      assert.equal(right.status, 200);
      assert.equal(right.body.status, "healthy");
    });

    it("refuses MCP without the token and serves it with one", async () => {
      assert.equal(await postMcp(secured.url), 401);
      assert.equal(await postMcp(secured.url, bearer("not-the-right-token-at-all")), 401);

      await assert.rejects(connectMcp(secured.url), (err) => {
        assert.ok(err instanceof StreamableHTTPError, String(err));
        assert.equal(err.code, 401);
        return true;
      });

      const client = await connectMcp(secured.url, bearer(TOKEN));
      try {
        const { tools } = await client.listTools();
        assert.ok(tools.some((t) => t.name === "system__health"));
        const result = await client.callTool({ name: "system__ping", arguments: {} });
        assert.equal(result.isError, undefined);
        assert.equal((result.structuredContent as { pong: boolean }).pong, true);
      } finally {
        await client.close();
      }
    });

    it("refuses GET /events and /openapi.json without the token", async () => {
      for (const path of ["/events", "/openapi.json"]) {
        const res = await fetch(`${secured.url}${path}`);
        assert.equal(res.status, 401, path);
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, "UNAUTHORIZED");
      }
      const controller = new AbortController();
      const events = await fetch(`${secured.url}/events`, {
        headers: bearer(TOKEN),
        signal: controller.signal,
      });
      assert.equal(events.status, 200);
      assert.match(events.headers.get("content-type") ?? "", /^text\/event-stream/);
      controller.abort();
      await events.body?.cancel().catch(() => undefined);
    });

    it("keeps GET /health open", async () => {
      const res = await fetch(`${secured.url}/health`);
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { status: string }).status, "healthy");
    });
  });

  describe("without a token configured", () => {
    it("serves every transport without a header", async () => {
      const json = await rpc(open.url, PING);
      assert.equal(json.status, 200);
      assert.equal(json.body.result.pong, true);

      const http = await post(open.url, "/system/health", {});
      assert.equal(http.status, 200);

      // a header is ignored when no token is configured
      const withHeader = await rpc(open.url, PING, bearer("anything-at-all-here"));
      assert.equal(withHeader.status, 200);

      const client = await connectMcp(open.url);
      try {
        const result = await client.callTool({ name: "system__ping", arguments: {} });
        assert.equal(result.isError, undefined);
      } finally {
        await client.close();
      }

      const controller = new AbortController();
      const events = await fetch(`${open.url}/events`, { signal: controller.signal });
      assert.equal(events.status, 200);
      controller.abort();
      await events.body?.cancel().catch(() => undefined);

      const health = await fetch(`${open.url}/health`);
      assert.equal(health.status, 200);
    });
  });
});
