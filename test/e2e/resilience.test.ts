import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CLUSTER_ENV, type Group, killAllServers, startGroup, until } from "../helpers/cluster.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";

/**
 * Rate limits and circuit breakers are shared by every server process: two real
 * `claudebench serve` processes on one Redis, driven through the diagnostic test.circuit.
 */

const OPEN_MS = 1500;
const POLICIES = {
  "test.circuit": {
    rateLimit: { limit: 50, windowMs: 600_000 },
    breaker: { minCalls: 4, failureRatio: 0.5, windowMs: 60_000, openMs: OPEN_MS, halfOpenProbes: 1 },
  },
};

async function circuit(url: string, params: Record<string, unknown>, session: string) {
  const res = await fetch(`${url}/test/circuit`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-session-id": session },
    body: JSON.stringify(params),
  });
  return { status: res.status, body: (await res.json()) as { error?: { code: string } } };
}

async function stateOn(url: string): Promise<string> {
  const res = await fetch(`${url}/system/circuits`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
  });
  const { circuits } = (await res.json()) as { circuits: { method: string; state: string }[] };
  return circuits.find((c) => c.method === "test.circuit")?.state ?? "none";
}

describe("resilience across two server processes", () => {
  let redis: TestRedis;
  let group: Group;

  before(async () => {
    redis = await startTestRedis();
    group = await startGroup(redis.url, 2, {
      ...CLUSTER_ENV,
      DIAGNOSTICS: "on",
      HANDLER_POLICIES: JSON.stringify(POLICIES),
    });
  });

  after(async () => {
    await killAllServers();
    await redis?.stop();
  });

  // First: the rate limit test's 50 successes would dilute the failure ratio of this window.
  it("opens on one process and is seen open, half-open and closed by both", async () => {
    const [a, b] = group.members.map((m) => m.url) as [string, string];
    for (let i = 0; i < 4; i++) {
      assert.equal((await circuit(a, { fail: "INTERNAL" }, `failer-${i}`)).status, 500);
    }
    await until(
      async () => (await stateOn(a)) === "open" && (await stateOn(b)) === "open",
      "both see it open",
      5000,
    );
    const refusedByB = await circuit(b, {}, "bystander");
    assert.equal(refusedByB.status, 503);
    assert.equal(refusedByB.body.error?.code, "CIRCUIT_OPEN");

    // After the open time the first call (on B) is the probe; its success closes it for A too.
    await new Promise((r) => setTimeout(r, OPEN_MS + 100));
    assert.equal((await circuit(b, {}, "prober")).status, 200);
    await until(
      async () => (await stateOn(a)) === "closed" && (await stateOn(b)) === "closed",
      "both see it closed",
      5000,
    );
    assert.equal((await circuit(a, {}, "after")).status, 200);
  });

  it("admits exactly 50 of 200 concurrent calls spread over both processes", async () => {
    const [a, b] = group.members.map((m) => m.url) as [string, string];
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => circuit(i % 2 === 0 ? a : b, {}, "one-actor")),
    );
    assert.equal(answers.filter((r) => r.status === 200).length, 50);
    assert.equal(answers.filter((r) => r.status === 429).length, 150);
  });
});
