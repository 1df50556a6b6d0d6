import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { JsonRpcFailure, JsonRpcResponse, JsonRpcSuccess } from "../../src/contract/jsonrpc.js";
import { builtinHandlers } from "../../src/handlers/index.js";
import { SECRET, testHandlers } from "../helpers/handlers.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";
import { rpc, startTestServer } from "../helpers/server.js";

type Server = Awaited<ReturnType<typeof startTestServer>>;

const errorOf = (body: unknown) => (body as JsonRpcFailure).error;

describe("JSON-RPC 2.0 over POST /rpc", () => {
  let redis: TestRedis;
  let server: Server;

  before(async () => {
    redis = await startTestRedis();
    server = await startTestServer({ redisUrl: redis.url, handlers: [...builtinHandlers, ...testHandlers] });
  });

  after(async () => {
    await server?.close();
    await redis?.stop();
  });

  it("answers a valid call", async () => {
    const res = await rpc(server.url, { jsonrpc: "2.0", id: 1, method: "system.ping" });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /application\/json/);
    const { result } = res.body as JsonRpcSuccess;
    assert.equal(res.body.id, 1);
    assert.deepEqual(Object.keys(result as object).sort(), ["instanceId", "pong", "ts"]);
  });

  it("answers a body that is not JSON with -32700 and id null", async () => {
    const res = await rpc(server.url, '{"jsonrpc":"2.0","id":1,"method":"system.ping"');
    assert.equal(res.status, 200);
    assert.equal(res.body.jsonrpc, "2.0");
    assert.equal(res.body.id, null);
    assert.equal(errorOf(res.body).code, -32700);
  });

  it("answers a request that is not an object with -32600", async () => {
    for (const body of ["42", '"system.ping"', "null", "true"]) {
      const res = await rpc(server.url, body);
      assert.equal(res.status, 200, body);
      assert.equal(res.body.id, null, body);
      assert.equal(errorOf(res.body).code, -32600, body);
    }
  });

  it("answers a wrong jsonrpc version with -32600 and the request's id", async () => {
    const res = await rpc(server.url, { jsonrpc: "1.0", id: 77, method: "system.ping" });
    assert.equal(res.body.id, 77);
    assert.equal(errorOf(res.body).code, -32600);
    const missing = await rpc(server.url, { id: "s", method: "system.ping" });
    assert.equal(missing.body.id, "s");
    assert.equal(errorOf(missing.body).code, -32600);
  });

  it("answers a missing or empty method with -32600", async () => {
    for (const method of [undefined, "", 5]) {
      const res = await rpc(server.url, { jsonrpc: "2.0", id: 3, method });
      assert.equal(res.body.id, 3);
      assert.equal(errorOf(res.body).code, -32600, String(method));
    }
  });

  it("answers an invalid id with -32600", async () => {
    const res = await rpc(server.url, { jsonrpc: "2.0", id: { x: 1 }, method: "system.ping" });
    assert.equal(res.body.id, null);
    assert.equal(errorOf(res.body).code, -32600);
  });

  it("answers an unknown method with -32601", async () => {
    const res = await rpc(server.url, { jsonrpc: "2.0", id: "u", method: "nope.nothing" });
    assert.equal(res.body.id, "u");
    assert.equal(errorOf(res.body).code, -32601);
    assert.deepEqual(errorOf(res.body).data, { code: "METHOD_NOT_FOUND", method: "nope.nothing" });
  });

  it("answers invalid params with -32602 and the Zod issues", async () => {
    const res = await rpc(server.url, {
      jsonrpc: "2.0",
      id: 4,
      method: "system.metrics",
      params: { detailed: "yes" },
    });
    assert.equal(res.body.id, 4);
    const error = errorOf(res.body);
    assert.equal(error.code, -32602);
    assert.match(error.message, /^Invalid params: detailed: /);
    const data = error.data as { code: string; issues: { path: string; message: string; code: string }[] };
    assert.equal(data.code, "VALIDATION");
    assert.equal(data.issues.length, 1);
    assert.equal(data.issues[0]?.path, "detailed");
    assert.equal(data.issues[0]?.code, "invalid_type");
    assert.equal(typeof data.issues[0]?.message, "string");
  });

  it("answers positional (array) params with -32602", async () => {
    const res = await rpc(server.url, { jsonrpc: "2.0", id: 5, method: "system.metrics", params: [true] });
    assert.equal(res.body.id, 5);
    assert.equal(errorOf(res.body).code, -32602);
  });

  it("answers a handler's AppError with its code and an unexpected exception with -32603", async () => {
    const notFound = await rpc(server.url, { jsonrpc: "2.0", id: 6, method: "test.not_found", params: {} });
    assert.equal(errorOf(notFound.body).code, -32004);
    assert.equal((errorOf(notFound.body).data as { code: string }).code, "NOT_FOUND");

    const crash = await rpc(server.url, { jsonrpc: "2.0", id: 7, method: "test.crash" });
    assert.equal(crash.status, 200);
    assert.deepEqual(crash.body, {
      jsonrpc: "2.0",
      id: 7,
      error: { code: -32603, message: "Internal error", data: { code: "INTERNAL" } },
    });
    assert.ok(!JSON.stringify(crash.body).includes(SECRET));
  });

  it("answers an empty batch with one -32600", async () => {
    const res = await rpc(server.url, []);
    assert.equal(res.status, 200);
    assert.ok(!Array.isArray(res.body));
    assert.equal(res.body.id, null);
    assert.equal(errorOf(res.body).code, -32600);
  });

  it("sends nothing back for a notification: 204 and an empty body", async () => {
    const res = await fetch(`${server.url}/rpc`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", method: "test.echo", params: { a: 1 } }),
    });
    assert.equal(res.status, 204);
    assert.equal(await res.text(), "");
    // a failing notification is not answered either
    const failing = await rpc(server.url, { jsonrpc: "2.0", method: "test.crash" });
    assert.equal(failing.status, 204);
    assert.equal(failing.body, null);
  });

  it("sends nothing back for a batch of notifications only", async () => {
    const res = await rpc(server.url, [
      { jsonrpc: "2.0", method: "system.ping" },
      { jsonrpc: "2.0", method: "nope.nothing" },
      { jsonrpc: "2.0", method: "system.metrics", params: { detailed: "yes" } },
    ]);
    assert.equal(res.status, 204);
    assert.equal(res.body, null);
  });

  it("serves /rpc/batch as well", async () => {
    const res = await fetch(`${server.url}/rpc/batch`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([
        { jsonrpc: "2.0", id: 1, method: "test.echo", params: { n: 1 } },
        { jsonrpc: "2.0", id: 2, method: "test.echo", params: { n: 2 } },
      ]),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as JsonRpcSuccess[];
    assert.deepEqual(
      body.sort((a, b) => Number(a.id) - Number(b.id)),
      [
        { jsonrpc: "2.0", id: 1, result: { n: 1 } },
        { jsonrpc: "2.0", id: 2, result: { n: 2 } },
      ],
    );
  });

  it("answers each entry of a 50-entry mixed batch exactly once, by its own id", async () => {
    type Expectation = { result: unknown } | { code: number };
    const batch: unknown[] = [];
    const expected = new Map<string | number, Expectation>();
    let nonObjects = 0;
    let notifications = 0;
    for (let i = 0; i < 50; i++) {
      const id = i % 2 === 0 ? i : `id-${i}`;
      switch (i % 7) {
        case 0:
          batch.push({ jsonrpc: "2.0", id, method: "test.echo", params: { i } });
          expected.set(id, { result: { i } });
          break;
        case 1:
          batch.push({ jsonrpc: "2.0", id, method: "system.metrics", params: { detailed: "yes" } });
          expected.set(id, { code: -32602 });
          break;
        case 2:
          batch.push({ jsonrpc: "2.0", id, method: `nope.m${i}` });
          expected.set(id, { code: -32601 });
          break;
        case 3:
          batch.push({ jsonrpc: "2.0", method: "test.echo", params: { i } });
          notifications++;
          break;
        case 4:
          batch.push(i % 3 === 0 ? i : `entry ${i}`);
          nonObjects++;
          break;
        case 5:
          batch.push({ jsonrpc: "2.0", id, method: "test.not_found", params: { id: String(i) } });
          expected.set(id, { code: -32004 });
          break;
        default:
          batch.push({ jsonrpc: "2.0", id, method: "system.ping", params: [] });
          expected.set(id, { code: -32602 });
      }
    }
    assert.equal(batch.length, 50);

    const res = await rpc(server.url, batch);
    assert.equal(res.status, 200);
    const responses = res.body as JsonRpcResponse[];
    assert.ok(Array.isArray(responses));
    assert.equal(responses.length, 50 - notifications);
    assert.equal(responses.length, expected.size + nonObjects);

    const withoutId = responses.filter((r) => r.id === null);
    assert.equal(withoutId.length, nonObjects);
    for (const r of withoutId) assert.equal(errorOf(r).code, -32600);

    const seen = new Set<string | number>();
    for (const response of responses.filter((r) => r.id !== null)) {
      const id = response.id as string | number;
      assert.ok(!seen.has(id), `two responses for id ${id}`);
      seen.add(id);
      const want = expected.get(id);
      assert.ok(want, `unexpected response id ${id}`);
      assert.equal(response.jsonrpc, "2.0");
      if ("result" in want) assert.deepEqual((response as JsonRpcSuccess).result, want.result, `id ${id}`);
      else assert.equal(errorOf(response).code, want.code, `id ${id}`);
    }
    assert.equal(seen.size, expected.size);
  });
});
