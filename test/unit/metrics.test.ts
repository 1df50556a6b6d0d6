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
