import assert from "node:assert/strict";
import { get, type IncomingMessage } from "node:http";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { pino } from "pino";
import { EventLog } from "../../src/domain/events/event-log.js";
import { builtinHandlers } from "../../src/handlers/index.js";
import { createKeys } from "../../src/storage/keys.js";
import { sleep, until } from "../helpers/cluster.js";
import { testHandlers } from "../helpers/handlers.js";
import { rawExchange, rawRequest, rawSend, requestBytes, statusOf } from "../helpers/raw-http.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";
import { rpc, startTestServer } from "../helpers/server.js";
import { SseReader } from "../helpers/sse.js";
import { WsReader } from "../helpers/ws.js";

/**
 * What an attacker on the network or a web page in the user's browser could do to a running
 * server (issue 17): requests that must be refused with a status, never executed and never
 * able to end the process.
 */

type Server = Awaited<ReturnType<typeof startTestServer>>;

const TOKEN = "guard-test-token-0123456789abcdef";
const CREATE = { jsonrpc: "2.0", id: 1, method: "task.create", params: { text: "from a web page" } };
const wsUrl = (server: Server, query = "") => `${server.url.replace(/^http/, "ws")}/ws${query}`;

async function taskCount(server: Server): Promise<number> {
  const res = await rpc(server.url, { jsonrpc: "2.0", id: 1, method: "task.list", params: {} });
  return res.body.result.totalCount as number;
}

type Reader = { close(): Promise<void> };

/** Opens every reader, or none: on a refusal the ones already open are closed (false). */
async function openAll(openers: (() => Promise<Reader>)[]): Promise<Reader[] | false> {
  const open: Reader[] = [];
  try {
    for (const opener of openers) open.push(await opener());
    return open;
  } catch {
    await Promise.all(open.map((r) => r.close()));
    return false;
  }
}

async function refusedUpgrade(url: string, headers: Record<string, string> = {}): Promise<number> {
  try {
    const reader = await WsReader.open(url, { headers });
    await reader.close();
    return 101;
  } catch (err) {
    return (err as { status?: number }).status ?? 0;
  }
}

describe("requests that must not crash the server", () => {
  let redis: TestRedis;
  let open: Server;
  let secured: Server;

  before(async () => {
    redis = await startTestRedis();
    [open, secured] = await Promise.all([
      startTestServer({ redisUrl: redis.url }),
      startTestServer({ redisUrl: redis.url, authToken: TOKEN }),
    ]);
  });

  after(async () => {
    await Promise.all([open?.close(), secured?.close()]);
    await redis?.stop();
  });

  for (const [label, server] of [
    ["without a token", () => open],
    ["with a token", () => secured],
  ] as const) {
    it(`answers a WebSocket upgrade whose target is not a URL with 400 and keeps serving (${label})`, async () => {
      const answer = await rawExchange(
        server().url,
        "GET //[ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13",
      );
      assert.equal(statusOf(answer), 400, answer);
      const health = await fetch(`${server().url}/health`);
      assert.equal(health.status, 200);
    });
  }

  it("answers a plain GET of a target that is not a URL with 404", async () => {
    const answer = await rawExchange(open.url, "GET //[ HTTP/1.1\r\nHost: 127.0.0.1");
    assert.equal(statusOf(answer), 404, answer);
    assert.equal((await fetch(`${open.url}/health`)).status, 200);
  });

  for (const id of [
    "99999999999999999999-0",
    "0-99999999999999999999",
    "18446744073709551615-18446744073709551615",
  ]) {
    it(`refuses lastEventId ${id} with 400 on SSE and WebSocket`, async () => {
      const sse = await fetch(`${open.url}/events?lastEventId=${id}`);
      assert.equal(sse.status, 400);
      const body = (await sse.json()) as { error: { code: string; data: { param: string } } };
      assert.equal(body.error.code, "VALIDATION");
      assert.equal(body.error.data.param, "lastEventId");
      const header = await fetch(`${open.url}/events`, { headers: { "last-event-id": id } });
      assert.equal(header.status, 400);
      assert.equal(await refusedUpgrade(wsUrl(open, `?lastEventId=${id}`)), 400);
    });
  }

  it("resumes after the largest stream id Redis accepts (nothing follows it)", async () => {
    const reader = await SseReader.open(`${open.url}/events?lastEventId=18446744073709551615-0`);
    await reader.close();
  });
});

describe("a client that goes away in the middle of its body", () => {
  let redis: TestRedis;
  let server: Server;
  const logged: { level: number; msg: string }[] = [];

  before(async () => {
    redis = await startTestRedis();
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logged.push(JSON.parse(String(chunk)));
        done();
      },
    });
    server = await startTestServer({ redisUrl: redis.url, log: pino({ level: "warn" }, sink) });
  });

  after(async () => {
    await server?.close();
    await redis?.stop();
  });

  it("is no error of the server: nothing logged, nothing run, no 500", async () => {
    const mcpCall = {
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "task__create", arguments: { text: "x" } },
    };
    for (const [path, body] of [
      ["/rpc", CREATE],
      ["/task/create", CREATE.params],
      ["/mcp", mcpCall],
    ] as const) {
      const text = JSON.stringify(body);
      const headers: [string, string][] = [
        ["Host", "127.0.0.1"],
        ["Content-Type", "application/json"],
        ["Accept", "application/json, text/event-stream"],
        ["Content-Length", String(text.length + 100)],
      ];
      const { answer } = await rawSend(server.url, requestBytes("POST", path, headers, text), {
        endAfterWrite: true,
      });
      // node:http itself may answer the broken request 400 as the connection closes; never 500.
      assert.ok((answer?.status ?? 0) < 500, `${path}: ${JSON.stringify(answer)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(logged, []);
    assert.equal(await taskCount(server), 0);
  });
});

describe("who may call: Host, Origin and content type", () => {
  let redis: TestRedis;
  let open: Server;
  let listed: Server;
  let secured: Server;

  before(async () => {
    redis = await startTestRedis();
    [open, listed, secured] = await Promise.all([
      startTestServer({ redisUrl: redis.url }),
      startTestServer({
        redisUrl: redis.url,
        overrides: { allowedHosts: ["bench.internal"], allowedOrigins: ["https://tools.example"] },
      }),
      startTestServer({ redisUrl: redis.url, authToken: TOKEN }),
    ]);
  });

  after(async () => {
    await Promise.all([open?.close(), listed?.close(), secured?.close()]);
    await redis?.stop();
  });

  it("refuses a cross-site text/plain POST to /rpc and does not execute it", async () => {
    const before = await taskCount(open);
    const res = await rawRequest(open.url, {
      method: "POST",
      path: "/rpc",
      headers: { "content-type": "text/plain", origin: "https://evil.example" },
      body: JSON.stringify(CREATE),
    });
    assert.equal(res.status, 403);
    assert.match(res.body, /ALLOWED_ORIGINS/);
    assert.equal(await taskCount(open), before);
  });

  it("refuses a rebound Host name (DNS rebinding), even with the page's own Origin", async () => {
    const before = await taskCount(open);
    const res = await rawRequest(open.url, {
      method: "POST",
      path: "/task/create",
      headers: {
        host: "evil.example:3000",
        origin: "http://evil.example:3000",
        "content-type": "application/json",
      },
      body: JSON.stringify(CREATE.params),
    });
    assert.equal(res.status, 403);
    assert.match(res.body, /ALLOWED_HOSTS/);
    const health = await rawRequest(open.url, { path: "/health", headers: { host: "evil.example" } });
    assert.equal(health.status, 403);
    assert.equal(await taskCount(open), before);
  });

  it("takes any IP address as Host (peers and load balancers probe by address), but not a foreign Origin with it", async () => {
    for (const host of ["10.1.2.3:3000", "[fd00::5]:3000", "192.168.0.9"]) {
      const health = await rawRequest(open.url, { path: "/health", headers: { host } });
      assert.equal(health.status, 200, `${host}: ${health.body}`);
    }
    const before = await taskCount(open);
    const res = await rawRequest(open.url, {
      method: "POST",
      path: "/rpc",
      headers: { host: "10.1.2.3:3000", origin: "https://evil.example", "content-type": "application/json" },
      body: JSON.stringify(CREATE),
    });
    assert.equal(res.status, 403);
    assert.equal(await taskCount(open), before);
  });

  it("refuses Origin: null (sandboxed frames, files)", async () => {
    const res = await rawRequest(open.url, {
      method: "POST",
      path: "/rpc",
      headers: { "content-type": "application/json", origin: "null" },
      body: JSON.stringify(CREATE),
    });
    assert.equal(res.status, 403);
  });

  it("requires application/json on every JSON endpoint, even without an Origin", async () => {
    const before = await taskCount(open);
    for (const path of ["/rpc", "/rpc/batch", "/task/create", "/mcp"]) {
      for (const type of [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
      ]) {
        const body =
          path.startsWith("/rpc") || path === "/mcp" ? JSON.stringify(CREATE) : JSON.stringify(CREATE.params);
        const res = await rawRequest(open.url, {
          method: "POST",
          path,
          headers: { "content-type": type },
          body,
        });
        assert.equal(res.status, 415, `${path} ${type}: ${res.body}`);
        assert.match(res.body, /application\/json/);
      }
    }
    const untyped = await rawRequest(open.url, {
      method: "POST",
      path: "/rpc",
      body: JSON.stringify(CREATE),
    });
    assert.equal(untyped.status, 415);
    assert.equal(await taskCount(open), before);
  });

  it("serves the server's own origin, loopback names, listed hosts and origins, and typed JSON", async () => {
    const port = new URL(open.url).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `app.localhost:${port}`]) {
      const res = await rawRequest(open.url, {
        method: "POST",
        path: "/rpc",
        headers: { host, origin: `http://${host}`, "content-type": "application/json; charset=utf-8" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "system.ping" }),
      });
      assert.equal(res.status, 200, `${host}: ${res.body}`);
    }
    const listedPort = new URL(listed.url).port;
    const named = await rawRequest(listed.url, {
      method: "POST",
      path: "/system/ping",
      headers: { host: `bench.internal:${listedPort}`, origin: "https://tools.example" },
    });
    assert.equal(named.status, 200, named.body);
    const empty = await rawRequest(open.url, { method: "POST", path: "/system/ping" });
    assert.equal(empty.status, 200, "an empty body needs no content type");
  });

  it("refuses a WebSocket upgrade from a foreign origin (cross-site WebSocket hijacking)", async () => {
    assert.equal(await refusedUpgrade(wsUrl(open), { origin: "https://evil.example" }), 403);
    const port = new URL(open.url).port;
    assert.equal(await refusedUpgrade(wsUrl(open), { origin: `http://127.0.0.1:${port}` }), 101);
  });

  it("with a token, checks Origin but not Host (unless ALLOWED_HOSTS is set)", async () => {
    const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
    const anyHost = await rawRequest(secured.url, {
      method: "POST",
      path: "/system/ping",
      headers: { ...headers, host: "claudebench.lan" },
    });
    assert.equal(anyHost.status, 200, anyHost.body);
    const foreign = await rawRequest(secured.url, {
      method: "POST",
      path: "/system/ping",
      headers: { ...headers, origin: "https://evil.example" },
    });
    assert.equal(foreign.status, 403);
  });
});

describe("token handling", () => {
  let redis: TestRedis;
  let secured: Server;

  before(async () => {
    redis = await startTestRedis();
    secured = await startTestServer({ redisUrl: redis.url, authToken: TOKEN });
  });

  after(async () => {
    await secured?.close();
    await redis?.stop();
  });

  it("accepts the scheme name in any case (RFC 7235)", async () => {
    for (const scheme of ["Bearer", "bearer", "BEARER"]) {
      const res = await rpc(
        secured.url,
        { jsonrpc: "2.0", id: 1, method: "system.ping" },
        { authorization: `${scheme} ${TOKEN}` },
      );
      assert.equal(res.status, 200, scheme);
    }
    const wrong = await rpc(
      secured.url,
      { jsonrpc: "2.0", id: 1, method: "system.ping" },
      { authorization: `Basic ${TOKEN}` },
    );
    assert.equal(wrong.status, 401);
  });

  it("tells /health callers without the token only status, version and instance id", async () => {
    const anonymous = (await (await fetch(`${secured.url}/health`)).json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(anonymous).sort(), ["instanceId", "status", "version"]);
    const full = (await (
      await fetch(`${secured.url}/health`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as Record<string, unknown>;
    assert.ok("cluster" in full && "checks" in full, JSON.stringify(full));
  });
});

describe("batch and live-event client limits", () => {
  let redis: TestRedis;
  let server: Server;

  before(async () => {
    redis = await startTestRedis();
    server = await startTestServer({
      redisUrl: redis.url,
      handlers: [...builtinHandlers, ...testHandlers],
      overrides: { rpcBatchMax: 10, eventClientsMax: 3 },
    });
  });

  after(async () => {
    await server?.close();
    await redis?.stop();
  });

  it("refuses a batch over RPC_BATCH_MAX as a whole, and runs one at the limit", async () => {
    const before = await taskCount(server);
    const batch = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ ...CREATE, id: i, params: { text: `batch ${i}` } }));
    const over = await rpc(server.url, batch(11));
    assert.equal(over.body.error.code, -32600);
    assert.equal(over.body.error.data.limit, 10);
    assert.match(over.body.error.message, /RPC_BATCH_MAX/);
    assert.equal(await taskCount(server), before, "nothing of the refused batch ran");
    const at = await rpc(server.url, batch(10));
    assert.equal(at.body.length, 10);
    assert.equal(await taskCount(server), before + 10);
  });

  it("refuses live-event clients past EVENT_CLIENTS_MAX with 503, SSE and WebSocket alike", async () => {
    const readers = [
      await SseReader.open(`${server.url}/events`),
      await SseReader.open(`${server.url}/events`),
    ];
    const socket = await WsReader.open(wsUrl(server));
    try {
      const sse = await fetch(`${server.url}/events`);
      assert.equal(sse.status, 503);
      assert.ok(sse.headers.get("retry-after"));
      assert.equal(((await sse.json()) as { error: { code: string } }).error.code, "UNAVAILABLE");
      assert.equal(await refusedUpgrade(wsUrl(server)), 503);
    } finally {
      await Promise.all([...readers.map((r) => r.close()), socket.close()]);
    }
    // every place is given back when its client leaves (the server counts them as they close)
    const again = await until(
      () =>
        openAll([
          () => SseReader.open(`${server.url}/events`),
          () => SseReader.open(`${server.url}/events`),
          () => WsReader.open(wsUrl(server)),
        ]),
      "all three places to be free again",
    );
    await Promise.all(again.map((r) => r.close()));
  });
});

describe("a live-event client that leaves before its stream opens", () => {
  let redis: TestRedis;
  let server: Server;

  before(async () => {
    redis = await startTestRedis();
    server = await startTestServer({ redisUrl: redis.url, overrides: { eventClientsMax: 2 } });
  });

  after(async () => {
    process.kill(redis.pid, "SIGCONT");
    await server?.close();
    await redis?.stop();
  });

  it("gives its place back", { timeout: 60_000 }, async () => {
    // With Redis stopped, the first subscribers wait for the event tail to start.
    process.kill(redis.pid, "SIGSTOP");
    const waiting = await Promise.all(
      [1, 2].map(
        () =>
          new Promise<ReturnType<typeof get>>((resolve) => {
            const req = get(`${server.url}/events`);
            req.on("error", () => undefined);
            req.on("socket", (socket) => socket.once("connect", () => resolve(req)));
          }),
      ),
    );
    await sleep(300); // both requests reach the server and take their places
    for (const req of waiting) req.destroy();
    await sleep(300);
    process.kill(redis.pid, "SIGCONT");
    const readers = await until(
      () =>
        openAll([() => SseReader.open(`${server.url}/events`), () => SseReader.open(`${server.url}/events`)]),
      "both places to be free again",
    );
    await Promise.all(readers.map((r) => r.close()));
  });
});

describe("the live-event buffers of all clients together", () => {
  // The reader shares the event loop with the server, so it can fall behind by a burst; its
  // share (TOTAL / 4 clients = 2 MiB beyond the kernel's socket buffers) is twenty events,
  // a margin that holds on a busy machine. 30 MB per client is more than loopback buffers
  // and a share together hold, so every paused client goes over.
  const TOTAL = 8 * 1024 * 1024;
  const BIG = 100_000;
  const COUNT = 300;
  let redis: TestRedis;
  let server: Server;
  let writer: Redis;

  before(async () => {
    redis = await startTestRedis();
    server = await startTestServer({
      redisUrl: redis.url,
      // Each client alone may hold far more than the flood: only the total can cut them.
      overrides: { eventClientBufferBytes: 256 * 1024 * 1024, eventBuffersTotalBytes: TOTAL },
    });
    writer = new Redis(redis.url);
  });

  after(async () => {
    writer?.disconnect();
    await server?.close();
    await redis?.stop();
  });

  const openPaused = async () => {
    const res = await new Promise<IncomingMessage>((resolve, reject) =>
      get(`${server.url}/events?prefix=flood.`, resolve).on("error", reject),
    );
    assert.equal(res.statusCode, 200);
    await new Promise((resolve) => res.once("data", resolve));
    res.pause();
    return res;
  };

  it("cuts paused clients once together they hold more than EVENT_BUFFERS_TOTAL_BYTES, not the one that reads", async () => {
    const paused = [await openPaused(), await openPaused(), await openPaused()];
    // true when the server cut the response; false when it was still open after 20 s
    const cut = paused.map(
      (res) =>
        new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), 20_000);
          res.once("close", () => {
            clearTimeout(timer);
            resolve(!res.complete);
          });
        }),
    );
    const reading = await SseReader.open(`${server.url}/events?prefix=flood.`);
    const log = new EventLog(writer, createKeys(server.config.keyPrefix), "writer", 100_000);
    const blob = "x".repeat(BIG);
    for (let i = 0; i < COUNT; i++) await log.emit("flood.total", { i, blob });
    try {
      // each paused client, resumed, finds its response cut short
      await new Promise((resolve) => setTimeout(resolve, 1000));
      for (const res of paused) res.resume();
      assert.deepEqual(await Promise.all(cut), [true, true, true]);
      const events = await reading.waitFor(COUNT, 30_000);
      assert.equal(events.length, COUNT, "the client that keeps up gets everything");
    } finally {
      for (const res of paused) res.destroy();
      await reading.close();
    }
  });
});
