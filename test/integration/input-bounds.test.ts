import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { FREE_FORM_MAX_BYTES, JSON_MAX_DEPTH, METADATA_MAX_BYTES } from "../../src/core/json-bounds.js";
import { connectMcp } from "../helpers/mcp.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";
import { post, rpc, startTestServer } from "../helpers/server.js";

/**
 * Free-form JSON from callers is bounded in depth and size at validation (issue 17): a value
 * nested thousands of levels deep overflowed the stack while the task was stored, answered
 * INTERNAL, and twenty such calls opened task.create's breaker for every client.
 */

type Server = Awaited<ReturnType<typeof startTestServer>>;

/** `{"a":{"a":...}}` `depth` levels deep, as text: JSON.stringify itself cannot write it. */
const nested = (depth: number) => `${'{"a":'.repeat(depth - 1)}{}${"}".repeat(depth - 1)}`;
const createBody = (metadataJson: string) =>
  `{"jsonrpc":"2.0","id":1,"method":"task.create","params":{"text":"deep","metadata":${metadataJson}}}`;

async function breakers(server: Server): Promise<Record<string, string>> {
  const res = await post(server.url, "/system/circuits", {});
  return Object.fromEntries(
    (res.body.circuits as { method: string; state: string }[]).map((c) => [c.method, c.state]),
  );
}

describe("bounds on free-form JSON", () => {
  let redis: TestRedis;
  let server: Server;

  before(async () => {
    redis = await startTestRedis();
    server = await startTestServer({ redisUrl: redis.url });
  });

  after(async () => {
    await server?.close();
    await redis?.stop();
  });

  it("refuses params nested deeper than the limit with VALIDATION naming it, on every transport", async () => {
    const viaRpc = await rpc(server.url, createBody(nested(6000)));
    assert.equal(viaRpc.body.error.code, -32602);
    assert.equal(viaRpc.body.error.data.code, "VALIDATION");
    assert.equal(viaRpc.body.error.data.limit, JSON_MAX_DEPTH);
    assert.match(viaRpc.body.error.message, new RegExp(`deeper than ${JSON_MAX_DEPTH} levels`));

    const viaRoute = await post(server.url, "/task/create", `{"text":"deep","metadata":${nested(6000)}}`);
    assert.equal(viaRoute.status, 400);
    assert.equal(viaRoute.body.error.code, "VALIDATION");

    const mcp = await connectMcp(server.url);
    try {
      const result = await mcp.callTool({
        name: "task__create",
        arguments: { text: "deep", metadata: JSON.parse(nested(3000)) },
      });
      assert.equal(result.isError, true);
      assert.match(JSON.stringify(result.content), /deeper than/);
    } finally {
      await mcp.close();
    }
  });

  it("accepts params exactly at the depth limit", async () => {
    // params → metadata → JSON_MAX_DEPTH - 1 more levels
    const res = await rpc(server.url, createBody(nested(JSON_MAX_DEPTH - 1)));
    assert.equal(res.body.result?.status, "pending", JSON.stringify(res.body).slice(0, 300));
  });

  it("never lets bad input open a breaker: a normal call works after many deep ones", async () => {
    const results = await Promise.all(
      Array.from({ length: 60 }, () => rpc(server.url, createBody(nested(6000)))),
    );
    assert.ok(results.every((r) => r.body.error?.data.code === "VALIDATION"));
    const claimed = await rpc(server.url, {
      jsonrpc: "2.0",
      id: 1,
      method: "task.claim",
      params: { workerId: "w-bounds" },
    });
    const task = claimed.body.result.tasks[0];
    const deepResults = await Promise.all(
      Array.from({ length: 30 }, () =>
        rpc(
          server.url,
          `{"jsonrpc":"2.0","id":1,"method":"task.complete","params":{"id":"${task.id}","workerId":"w-bounds","token":${task.leaseToken},"result":${nested(6000)}}}`,
        ),
      ),
    );
    assert.ok(deepResults.every((r) => r.body.error?.data.code === "VALIDATION"));
    const normal = await rpc(server.url, {
      jsonrpc: "2.0",
      id: 2,
      method: "task.create",
      params: { text: "after the attack" },
    });
    assert.equal(normal.body.result?.status, "pending", JSON.stringify(normal.body));
    const states = await breakers(server);
    assert.ok(
      Object.values(states).every((s) => s === "closed"),
      JSON.stringify(states),
    );
  });

  it("bounds the size of stored free-form fields and says which limit", async () => {
    const big = "x".repeat(METADATA_MAX_BYTES);
    const metadata = await rpc(server.url, {
      jsonrpc: "2.0",
      id: 1,
      method: "task.create",
      params: { text: "big", metadata: { big } },
    });
    assert.equal(metadata.body.error.data.code, "VALIDATION");
    assert.match(
      metadata.body.error.message,
      new RegExp(`metadata: larger than ${METADATA_MAX_BYTES} bytes`),
    );

    await rpc(server.url, {
      jsonrpc: "2.0",
      id: 1,
      method: "task.create",
      params: { text: "for a big result" },
    });
    const claimed = await rpc(server.url, {
      jsonrpc: "2.0",
      id: 1,
      method: "task.claim",
      params: { workerId: "w-big" },
    });
    const task = claimed.body.result.tasks[0];
    const result = await rpc(server.url, {
      jsonrpc: "2.0",
      id: 1,
      method: "task.complete",
      params: {
        id: task.id,
        workerId: "w-big",
        token: task.leaseToken,
        result: "y".repeat(FREE_FORM_MAX_BYTES),
      },
    });
    assert.equal(result.body.error.data.code, "VALIDATION");
    assert.match(result.body.error.message, new RegExp(`result: larger than ${FREE_FORM_MAX_BYTES} bytes`));
    const within = await rpc(server.url, {
      jsonrpc: "2.0",
      id: 1,
      method: "task.complete",
      params: { id: task.id, workerId: "w-big", token: task.leaseToken, result: "y".repeat(1000) },
    });
    assert.equal(within.body.result?.status, "completed", JSON.stringify(within.body).slice(0, 300));
  });
});
