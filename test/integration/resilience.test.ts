import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { Config } from "../../src/config.js";
import type { PolicyOverride } from "../../src/core/handler-policy.js";
import { parseEventEntry } from "../../src/domain/events/event-log.js";
import { builtinHandlers } from "../../src/handlers/index.js";
import { until } from "../helpers/cluster.js";
import { connectMcp } from "../helpers/mcp.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";
import { post, rpc, startTestServer } from "../helpers/server.js";

/**
 * The resilience pipeline through real HTTP, JSON-RPC and MCP against a real Redis, driven by
 * the diagnostic handler test.circuit. The clock of rate limits, breakers and the cache is the
 * test's own; everything else (timeouts, network) runs in real time.
 */

type Server = Awaited<ReturnType<typeof startTestServer>>;

const BREAKER = { minCalls: 4, failureRatio: 0.5, windowMs: 10_000, openMs: 5_000, halfOpenProbes: 1 };

class TestClock {
  now = 1_900_000_000_000;
  read = () => this.now;
  advance(ms: number) {
    this.now += ms;
  }
}

const circuit = (server: Server, params: Record<string, unknown>, headers: Record<string, string> = {}) =>
  post(server.url, "/test/circuit", params, headers);

async function breakerState(server: Server, method: string): Promise<string> {
  const res = await post(server.url, "/system/circuits", {});
  const found = (res.body.circuits as { method: string; state: string }[]).find((c) => c.method === method);
  return found?.state ?? "none";
}

const waitForState = (server: Server, method: string, state: string) =>
  until(async () => (await breakerState(server, method)) === state, `${method} ${state}`, 5000);

async function circuitEvents(server: Server): Promise<string[]> {
  const { redis, keys } = server;
  const entries = (await redis.xrange(keys.events(), "-", "+")) as [string, string[]][];
  return entries
    .map((e) => parseEventEntry(e))
    .filter((e) => e?.event.startsWith("circuit.") && e.payload.method === "test.circuit")
    .map((e) => e?.event as string);
}

describe("resilience middleware", () => {
  let redis: TestRedis;
  before(async () => {
    redis = await startTestRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  async function serverWith(
    policies: Record<string, PolicyOverride>,
    clock?: TestClock,
    config: Partial<Config> = {},
  ) {
    return startTestServer({
      redisUrl: redis.url,
      handlers: builtinHandlers,
      clock: clock?.read,
      overrides: { diagnostics: true, handlerPolicies: policies, ...config },
    });
  }

  describe("circuit breaker", () => {
    let server: Server;
    const clock = new TestClock();
    before(async () => {
      server = await serverWith({ "test.circuit": { breaker: BREAKER, timeoutMs: 200 } }, clock);
    });
    after(async () => {
      await server?.close();
    });

    it("counts neither validation nor not-found nor conflict errors", async () => {
      for (let i = 0; i < 10; i++) {
        assert.equal((await circuit(server, { delayMs: "soon" })).status, 400);
        assert.equal((await circuit(server, { fail: "NOT_FOUND" })).status, 404);
        assert.equal((await circuit(server, { fail: "CONFLICT" })).status, 409);
      }
      assert.equal(await breakerState(server, "test.circuit"), "closed");
    });

    it("goes closed → open → half-open → closed", async () => {
      // Let the 20 harmless calls above be sent (successes go in batches every 200 ms), then
      // move past their window: they would dilute the failure ratio.
      await new Promise((r) => setTimeout(r, 300));
      clock.advance(BREAKER.windowMs + 1);
      for (let i = 0; i < BREAKER.minCalls; i++) {
        assert.equal((await circuit(server, { fail: "INTERNAL" })).status, 500);
      }
      await waitForState(server, "test.circuit", "open");
      const refused = await circuit(server, {});
      assert.equal(refused.status, 503);
      assert.equal(refused.body.error.code, "CIRCUIT_OPEN");
      assert.equal(refused.headers.get("retry-after"), "5");
      const viaRpc = await rpc(server.url, { jsonrpc: "2.0", id: 1, method: "test.circuit", params: {} });
      assert.equal(viaRpc.body.error.code, -32001);
      const scraped = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(
        scraped,
        /^claudebench_circuit_state\{method="test\.circuit"\} 2$/m,
        "the gauge says open",
      );
      assert.match(scraped, /^claudebench_circuit_state\{method="task\.create"\} 0$/m);

      clock.advance(BREAKER.openMs - 1);
      assert.equal((await circuit(server, {})).status, 503, "still open one ms before its time");
      clock.advance(1);
      const probe = await circuit(server, { label: "probe" });
      assert.equal(probe.status, 200, "the first call after the open time is let through as a probe");
      assert.equal(await breakerState(server, "test.circuit"), "closed");
      assert.equal((await circuit(server, {})).status, 200);
      assert.deepEqual((await circuitEvents(server)).slice(-3), [
        "circuit.opened",
        "circuit.half_opened",
        "circuit.closed",
      ]);
    });

    it("goes half-open → open when the probe fails, and lets only one probe through at a time", async () => {
      clock.advance(BREAKER.windowMs + 1);
      for (let i = 0; i < BREAKER.minCalls; i++) await circuit(server, { fail: "UNAVAILABLE" });
      await waitForState(server, "test.circuit", "open");
      clock.advance(BREAKER.openMs);

      const slowProbe = circuit(server, { delayMs: 150 });
      await waitForState(server, "test.circuit", "half_open");
      const second = await circuit(server, {});
      assert.equal(second.status, 503, "a second call while the probe runs is refused");
      assert.equal((await slowProbe).status, 200);
      assert.equal(await breakerState(server, "test.circuit"), "closed");

      clock.advance(BREAKER.windowMs + 1);
      for (let i = 0; i < BREAKER.minCalls; i++) await circuit(server, { fail: "INTERNAL" });
      await waitForState(server, "test.circuit", "open");
      clock.advance(BREAKER.openMs);
      assert.equal((await circuit(server, { fail: "INTERNAL" })).status, 500, "the failing probe runs");
      assert.equal(await breakerState(server, "test.circuit"), "open");
      const reopened = await circuit(server, {});
      assert.equal(reopened.status, 503);
      assert.equal(reopened.headers.get("retry-after"), "5", "open for a full open time again");
      assert.deepEqual((await circuitEvents(server)).slice(-3), [
        "circuit.opened",
        "circuit.half_opened",
        "circuit.opened",
      ]);
      clock.advance(BREAKER.openMs);
      assert.equal((await circuit(server, {})).status, 200);
    });

    it("counts timeouts as failures", async () => {
      clock.advance(BREAKER.windowMs + 1);
      assert.equal(await breakerState(server, "test.circuit"), "closed");
      for (let i = 0; i < BREAKER.minCalls; i++) {
        const res = await circuit(server, { delayMs: 2000 });
        assert.equal(res.status, 504);
        assert.equal(res.body.error.code, "TIMEOUT");
      }
      await waitForState(server, "test.circuit", "open");
      clock.advance(BREAKER.openMs);
      assert.equal((await circuit(server, {})).status, 200);
    });
  });

  describe("timeout", () => {
    let server: Server;
    before(async () => {
      server = await serverWith({ "test.circuit": { timeoutMs: 100, breaker: false } });
    });
    after(async () => {
      await server?.close();
    });

    it("answers TIMEOUT on every transport and aborts the handler's signal", async () => {
      const http = await circuit(server, { delayMs: 10_000, label: "http" });
      assert.equal(http.status, 504);
      assert.match(http.body.error.message, /did not finish within 100 ms/);
      const viaRpc = await rpc(server.url, {
        jsonrpc: "2.0",
        id: 1,
        method: "test.circuit",
        params: { delayMs: 10_000, label: "rpc" },
      });
      assert.equal(viaRpc.body.error.code, -32005);
      const { redis: r, keys } = server;
      const aborted = await until(async () => {
        const entries = (await r.xrange(keys.events(), "-", "+")) as [string, string[]][];
        const labels = entries
          .map((e) => parseEventEntry(e))
          .filter((e) => e?.event === "test.circuit.aborted")
          .map((e) => e?.payload.label);
        return labels.length === 2 && labels;
      }, "both handlers to observe the abort");
      assert.deepEqual([...aborted].sort(), ["http", "rpc"]);
    });

    it("leaves no timer behind when the handler finishes in time", async () => {
      const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
      await circuit(server, {});
      const before = timers();
      await Promise.all(Array.from({ length: 100 }, () => circuit(server, { delayMs: 1 })));
      assert.ok(timers() - before < 20, `timers before ${before}, after ${timers()}`);
    });
  });

  describe("rate limit", () => {
    let server: Server;
    let mcp: Client;
    const clock = new TestClock();
    before(async () => {
      server = await serverWith({ "test.circuit": { rateLimit: { limit: 50, windowMs: 60_000 } } }, clock);
      mcp = await connectMcp(server.url, { "x-session-id": "mcp-actor" });
    });
    after(async () => {
      await mcp?.close();
      await server?.close();
    });

    it("lets exactly 50 of 200 concurrent calls through, with headers on the refused ones", async () => {
      const answers = await Promise.all(
        Array.from({ length: 200 }, () => circuit(server, {}, { "x-session-id": "burst" })),
      );
      const passed = answers.filter((a) => a.status === 200);
      const refused = answers.filter((a) => a.status === 429);
      assert.equal(passed.length, 50);
      assert.equal(refused.length, 150);
      const first = refused[0];
      assert.equal(first?.body.error.code, "RATE_LIMITED");
      assert.equal(first?.headers.get("retry-after"), "60");
      assert.equal(first?.headers.get("ratelimit-limit"), "50");
      assert.equal(first?.headers.get("ratelimit-remaining"), "0");
      assert.equal(first?.headers.get("ratelimit-reset"), "60");
      assert.equal(first?.headers.get("ratelimit-policy"), "50;w=60");
    });

    it("counts each actor on its own, and slides the window with the clock", async () => {
      const other = await circuit(server, {}, { "x-session-id": "someone-else" });
      assert.equal(other.status, 200);
      const viaRpc = await rpc(
        server.url,
        { jsonrpc: "2.0", id: 7, method: "test.circuit", params: {}, metadata: { sessionId: "burst" } },
        {},
      );
      assert.equal(viaRpc.body.error.code, -32000);
      assert.equal(viaRpc.body.error.data.code, "RATE_LIMITED");
      assert.equal(viaRpc.headers.get("retry-after"), "60");
      clock.advance(60_000);
      assert.equal((await circuit(server, {}, { "x-session-id": "burst" })).status, 200);
    });

    it("tells an MCP client when to retry", async () => {
      const results = [];
      for (let i = 0; i < 51; i++) results.push(await mcp.callTool({ name: "test__circuit", arguments: {} }));
      const last = results.at(-1) as { isError?: boolean; content: { text: string }[] };
      assert.equal(results.filter((r) => !r.isError).length, 50);
      assert.equal(last.isError, true);
      const text = JSON.parse(last.content[0]?.text ?? "{}");
      assert.equal(text.error.code, "RATE_LIMITED");
      assert.match(text.error.message, /retry after 60 s/);
    });
  });

  describe("cache and concurrency limit", () => {
    let server: Server;
    const clock = new TestClock();
    before(async () => {
      server = await serverWith(
        {
          "task.stats": { cache: { ttlMs: 10_000 } },
          "task.create": { invalidates: ["task.stats"] },
          "test.circuit": { concurrency: 2, breaker: { ...BREAKER, minCalls: 1 } },
        },
        clock,
      );
    });
    after(async () => {
      await server?.close();
    });

    const pending = async () => (await post(server.url, "/task/stats", {})).body.byStatus.pending as number;

    it("serves a cached result until its TTL or an invalidating write", async () => {
      const first = await pending();
      await server.dispatcher.services.tasks.create({
        text: "behind the cache's back",
        priority: 50,
        maxAttempts: 3,
      });
      assert.equal(await pending(), first, "a write that does not invalidate leaves the cached answer");
      clock.advance(10_000);
      assert.equal(await pending(), first + 1, "the entry expired");
      assert.equal((await post(server.url, "/task/create", { text: "through the API" })).status, 200);
      assert.equal(await pending(), first + 2, "task.create dropped the cached stats");
    });

    it("refuses calls over the concurrency limit without tripping the breaker", async () => {
      const answers = await Promise.all(Array.from({ length: 5 }, () => circuit(server, { delayMs: 300 })));
      assert.deepEqual(answers.map((a) => a.status).sort(), [200, 200, 503, 503, 503]);
      const refused = answers.find((a) => a.status === 503);
      assert.equal(refused?.body.error.code, "UNAVAILABLE");
      assert.equal(await breakerState(server, "test.circuit"), "closed");
    });
  });
});
