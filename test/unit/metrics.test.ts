import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CallStats, LatencyHistogram } from "../../src/core/metrics.js";

describe("LatencyHistogram", () => {
  it("reads percentiles within one bucket (4.5 %) of the exact value", () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.record(i / 10); // 0.1 .. 100 ms
    for (const [p, exact] of [
      [50, 50],
      [95, 95],
      [99, 99],
    ] as const) {
      const got = h.percentile(p);
      assert.ok(got >= exact && got <= exact * 1.046, `p${p}: ${got} vs ${exact}`);
    }
    assert.equal(h.count, 1000);
    assert.equal(h.maxMs, 100);
  });

  it("answers 0 when empty and never above the maximum", () => {
    const h = new LatencyHistogram();
    assert.equal(h.percentile(99), 0);
    h.record(3);
    assert.equal(h.percentile(99), 3);
  });
});

describe("CallStats", () => {
  it("counts calls and errors by code per method", () => {
    const stats = new CallStats();
    stats.record("a.b", 1);
    stats.record("a.b", 2, "NOT_FOUND");
    stats.record("a.b", 3, "NOT_FOUND");
    stats.record("c.d", 4, "INTERNAL");
    const snap = stats.snapshot();
    assert.equal(snap["a.b"]?.calls, 3);
    assert.equal(snap["a.b"]?.errors, 2);
    assert.deepEqual(snap["a.b"]?.errorsByCode, { NOT_FOUND: 2 });
    assert.equal(snap["a.b"]?.latency.avgMs, 2);
    assert.deepEqual(snap["c.d"]?.errorsByCode, { INTERNAL: 1 });
  });
});

describe("RecentCalls: figures over the last minutes", () => {
  const START = Date.parse("2030-01-01T00:00:10Z");

  it("forgets a slow call at start-up once it is older than the window, while the since-start p99 keeps it", () => {
    let now = START;
    const stats = new CallStats(() => now);
    stats.record("system.health", 4000); // the slow first health check of the issue
    assert.equal(stats.recent.window(5).methods[0]?.latency?.p99Ms, 4000);

    now += 6 * 60_000;
    for (let i = 0; i < 10; i++) stats.record("system.health", 2);
    stats.record("task.create", 1, "VALIDATION");

    const window = stats.recent.window(5);
    const health = window.methods.find((m) => m.method === "system.health");
    assert.equal(health?.calls, 10);
    assert.ok(
      health?.latency && health.latency.p99Ms <= 2 && health.latency.maxMs === 2,
      JSON.stringify(health),
    );
    assert.equal(window.calls, 11);
    assert.equal(window.errors, 1);
    assert.deepEqual(window.errorsByCode, { VALIDATION: 1 });
    assert.equal(window.since, Math.floor(now / 60_000) * 60_000 - 4 * 60_000);
    // Since the start, the slow call is still the p99 of that method.
    assert.equal(stats.snapshot()["system.health"]?.latency.p99Ms, 4000);
  });

  it("answers minute by minute, oldest first, with a quiet minute as no calls and no latency", () => {
    let now = START;
    const recent = new CallStats(() => now).recent;
    recent.record("a.b", 10);
    now += 2 * 60_000;
    recent.record("a.b", 30);
    recent.record("c.d", 50, "INTERNAL");

    const rows = recent.perMinute(3);
    assert.deepEqual(
      rows.map((r) => [r.t, r.calls, r.errors, r.latency?.maxMs ?? null]),
      [
        [Math.floor(START / 60_000) * 60_000, 1, 0, 10],
        [Math.floor(START / 60_000) * 60_000 + 60_000, 0, 0, null],
        [Math.floor(START / 60_000) * 60_000 + 120_000, 2, 1, 50],
      ],
    );
    assert.deepEqual(
      recent.perMinute(3, "a.b").map((r) => r.calls),
      [1, 0, 1],
    );
  });

  it("keeps one hour: a minute's slot is reused when its minute comes round again", () => {
    let now = START;
    const recent = new CallStats(() => now).recent;
    recent.record("a.b", 1);
    now += 60 * 60_000; // the same slot, an hour later
    recent.record("a.b", 1);
    const rows = recent.perMinute(60);
    assert.equal(rows.length, 60);
    assert.equal(
      rows.reduce((sum, r) => sum + r.calls, 0),
      1,
    );
    assert.equal(recent.perMinute(100).length, 60, "never more than the hour kept");
  });
});
