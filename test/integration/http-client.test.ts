import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { ClaudeBenchClient, ClaudeBenchError } from "../../src/client/http-client.js";
import { freePort } from "../helpers/cli.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";
import { rpc, startTestServer } from "../helpers/server.js";

/**
 * ClaudeBenchClient given several servers, over real HTTP: it moves on from a server it cannot
 * reach and stays with the one that answers; it sends a call again only when the request never
 * left, so a call that may have been carried out is not carried out twice.
 */

type TestServer = Awaited<ReturnType<typeof startTestServer>>;

let redis: TestRedis;
let server: TestServer;
/** A port nothing listens on: connections are refused. */
let closed: string;

before(async () => {
  redis = await startTestRedis();
  server = await startTestServer({ redisUrl: redis.url });
  closed = `http://127.0.0.1:${await freePort()}`;
});
after(async () => {
  await server.close();
  await redis.stop();
});

const pendingCount = async () => {
  const { body } = await rpc(server.url, { jsonrpc: "2.0", id: 1, method: "task.stats", params: {} });
  return (body.result as { byStatus: { pending: number } }).byStatus.pending;
};

describe("ClaudeBenchClient with several servers", () => {
  it("sends a refused call to the next server at once, and stays with the one that answered", async () => {
    const client = new ClaudeBenchClient({ url: [closed, server.url] });
    const created = await client.createTask({ text: "through the second" });
    assert.match(created.id, /^t-\d+$/);
    assert.equal(client.url, server.url);
    assert.equal((await client.getTask(created.id)).text, "through the second");
    assert.equal(client.url, server.url);
  });

  it("fails with NETWORK, naming the servers tried, when none answers", async () => {
    const other = `http://127.0.0.1:${await freePort()}`;
    const client = new ClaudeBenchClient({ url: [closed, other] });
    await assert.rejects(
      client.createTask({ text: "nowhere" }),
      (err: unknown) =>
        err instanceof ClaudeBenchError &&
        err.code === "NETWORK" &&
        err.transient &&
        /cannot reach ClaudeBench at .* \(nor 1 other server\(s\)\).*ECONNREFUSED/.test(err.message),
    );
  });

  it("does not resend a call whose connection broke after it was sent, but moves on for the next one", async () => {
    let received = 0;
    const dropper: Server = createServer((req) => {
      received++;
      req.socket.destroy();
    });
    await new Promise<void>((r) => dropper.listen(0, "127.0.0.1", r));
    try {
      const dropperUrl = `http://127.0.0.1:${(dropper.address() as AddressInfo).port}`;
      const client = new ClaudeBenchClient({ url: [dropperUrl, server.url] });
      const before = await pendingCount();
      await assert.rejects(
        client.createTask({ text: "maybe created" }),
        (err: unknown) => err instanceof ClaudeBenchError && err.code === "NETWORK",
      );
      assert.equal(received, 1);
      assert.equal(await pendingCount(), before, "not sent to the second server as well");
      assert.equal(client.url, server.url);
      await client.createTask({ text: "next call" });
      assert.equal(received, 1);
      assert.equal(await pendingCount(), before + 1);
    } finally {
      dropper.close();
    }
  });

  it("counts server-side refusals and INTERNAL as final and passing failures as transient", async () => {
    const client = new ClaudeBenchClient({ url: server.url });
    await assert.rejects(
      client.getTask("t-999999"),
      (err: unknown) => err instanceof ClaudeBenchError && err.code === "NOT_FOUND" && !err.transient,
    );
    for (const code of ["UNAVAILABLE", "TIMEOUT", "CIRCUIT_OPEN", "RATE_LIMITED"] as const) {
      assert.equal(new ClaudeBenchError(code, "x").transient, true, code);
    }
    // a server's bug may repeat for ever: a caller that retries it bounds how often
    for (const code of ["LEASE_LOST", "CONFLICT", "VALIDATION", "UNAUTHORIZED", "INTERNAL"] as const) {
      assert.equal(new ClaudeBenchError(code, "x").transient, false, code);
    }
  });

  it("reads an answer that is not JSON-RPC by its status: a proxy's 502, 503 or 504 as UNAVAILABLE, 429 as RATE_LIMITED, others as INTERNAL", async () => {
    const answers: [number, string, string][] = [
      [502, "<html>Bad Gateway</html>", "UNAVAILABLE"],
      [503, '{"message":"no healthy upstream"}', "UNAVAILABLE"],
      [504, "", "UNAVAILABLE"],
      [429, "slow down", "RATE_LIMITED"],
      [500, "<html>oops</html>", "INTERNAL"],
      [200, '{"result":1}', "INTERNAL"],
    ];
    let next = 0;
    const proxy: Server = createServer((_req, res) => {
      const [status, body] = answers[next++] as [number, string, string];
      res.writeHead(status, { "content-type": "text/html" }).end(body);
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    try {
      const client = new ClaudeBenchClient({
        url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
      });
      for (const [status, , code] of answers) {
        await assert.rejects(
          client.getTask("t-1"),
          (err: unknown) =>
            err instanceof ClaudeBenchError &&
            err.code === code &&
            err.message.includes(`unexpected HTTP ${status}`),
          `HTTP ${status}`,
        );
      }
    } finally {
      proxy.close();
    }
  });
});
