import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CallStats, LatencyHistogram } from "../../src/core/metrics.js";
import { formatFamily, MetricsRegistry } from "../../src/observability/prometheus.js";
import { callCollector, LATENCY_BOUNDS_S } from "../../src/observability/server-metrics.js";
import { parsePrometheus, sampleValue } from "../helpers/prometheus.js";

describe("Prometheus exposition format", () => {
  it("escapes HELP text and label values so the document parses back to the same strings", () => {
    const text = formatFamily({
      name: "x_total",
      help: 'back\\slash and\nnewline "quoted"',
      type: "counter",
      samples: [{ labels: { method: 'a"b\\c\nd' }, value: 3 }],
    });
    assert.equal(
      text,
      '# HELP x_total back\\\\slash and\\nnewline "quoted"\n# TYPE x_total counter\nx_total{method="a\\"b\\\\c\\nd"} 3\n',
    );
    const parsed = parsePrometheus(text);
    assert.equal(parsed.get("x_total")?.help, 'back\\slash and\nnewline "quoted"');
    assert.equal(sampleValue(parsed, "x_total", { method: 'a"b\\c\nd' }), 3);
  });

  it("writes histograms as cumulative _bucket lines ending at +Inf, then _sum and _count", () => {
    const text = formatFamily({
      name: "d_seconds",
      help: "h",
      type: "histogram",
      samples: [
        {
          labels: { m: "x" },
          buckets: [
            [0.5, 1],
            [1, 3],
          ],
          sum: 2.5,
          count: 4,
        },
      ],
    });
    assert.equal(
      text,
      [
        "# HELP d_seconds h",
        "# TYPE d_seconds histogram",
        'd_seconds_bucket{m="x",le="0.5"} 1',
        'd_seconds_bucket{m="x",le="1"} 3',
        'd_seconds_bucket{m="x",le="+Inf"} 4',
        'd_seconds_sum{m="x"} 2.5',
        'd_seconds_count{m="x"} 4',
        "",
      ].join("\n"),
    );
    parsePrometheus(text);
  });

  it("refuses invalid names and a family rendered twice", async () => {
    assert.throws(
      () => formatFamily({ name: "bad-name", help: "", type: "gauge", samples: [] }),
      /invalid metric name/,
    );
    assert.throws(
      () =>
        formatFamily({ name: "g", help: "", type: "gauge", samples: [{ labels: { "a-b": "1" }, value: 1 }] }),
      /invalid label name/,
    );
    const registry = new MetricsRegistry();
    const family = { name: "g", help: "", type: "gauge" as const, samples: [{ value: 1 }] };
    registry.register(() => [family]);
    registry.register(async () => [family]);
    await assert.rejects(registry.render(), /rendered twice/);
  });

  it("the test parser refuses what Prometheus would refuse", () => {
    const bad = [
      "x 1", // no newline at the end
      "x 1\n", // no TYPE
      '# TYPE x gauge\nx{a="1} 1\n', // unterminated label value
      '# TYPE x gauge\nx{a="\\q"} 1\n', // bad escape
      "# TYPE x gauge\nx one\n", // bad value
      "# TYPE x counter\nx -1\n", // negative counter
      "# TYPE x gauge\n# TYPE y gauge\ny 1\nx 1\n", // interleaved families
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', // not cumulative
      '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n', // +Inf != _count
      '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', // no +Inf
    ];
    for (const text of bad) assert.throws(() => parsePrometheus(text), Error, JSON.stringify(text));
  });
});

describe("latency histogram → Prometheus buckets", () => {
  it("counts whole fine buckets only: cumulative, never above the bound, at most one bucket late", () => {
    const h = new LatencyHistogram();
    const values = [
      0.004, 0.3, 0.49, 0.5, 0.51, 0.9, 1, 1.2, 2.4, 7, 9.99, 10, 30, 400, 2_000, 9_000, 200_000,
    ];
    for (const v of values) h.record(v);
    const bounds = [0.5, 1, 2.5, 10, 1000, 10_000];
    const counts = h.countsAtMost(bounds);
    bounds.forEach((bound, i) => {
      const atMost = values.filter((v) => v <= bound).length;
      const withinOneBucket = values.filter((v) => v <= bound / 1.045).length;
      const got = counts[i] as number;
      assert.ok(got <= atMost, `le=${bound}: ${got} counted, only ${atMost} are ≤ it`);
      assert.ok(got >= withinOneBucket, `le=${bound}: ${got} counted, ${withinOneBucket} are well below it`);
      if (i > 0) assert.ok(got >= (counts[i - 1] as number));
    });
    // 200 s lies beyond the fine histogram's range: it is only in +Inf (the count)
    assert.equal(h.countsAtMost([1e9])[0], values.length - 1);
  });

  it("callCollector renders calls, errors, rate-limited calls and the histogram per method", async () => {
    const stats = new CallStats();
    stats.record("task.create", 0.2);
    stats.record("task.create", 3);
    stats.record("task.create", 0.1, "VALIDATION");
    stats.record("task.claim", 20, "RATE_LIMITED");
    const registry = new MetricsRegistry();
    registry.register(callCollector(stats));
    const parsed = parsePrometheus(await registry.render());
    assert.equal(sampleValue(parsed, "claudebench_calls_total", { method: "task.create" }), 3);
    assert.equal(
      sampleValue(parsed, "claudebench_call_errors_total", { method: "task.create", code: "VALIDATION" }),
      1,
    );
    assert.equal(sampleValue(parsed, "claudebench_rate_limited_total", { method: "task.claim" }), 1);
    assert.equal(sampleValue(parsed, "claudebench_rate_limited_total", { method: "task.create" }), 0);
    const h = "claudebench_call_duration_seconds";
    const bucket = (method: string, le: string) => sampleValue(parsed, `${h}_bucket`, { method, le }, h);
    assert.equal(bucket("task.create", "0.0005"), 2);
    assert.equal(bucket("task.create", "0.005"), 3);
    assert.equal(bucket("task.claim", "0.01"), 0);
    assert.equal(bucket("task.claim", "0.025"), 1);
    assert.equal(bucket("task.claim", "+Inf"), 1);
    assert.equal(sampleValue(parsed, `${h}_count`, { method: "task.create" }, h), 3);
    assert.ok(Math.abs(sampleValue(parsed, `${h}_sum`, { method: "task.create" }, h) - 0.0033) < 1e-9);
    assert.equal(
      parsed.get(h)?.samples.filter((s) => s.name === `${h}_bucket`).length,
      2 * (LATENCY_BOUNDS_S.length + 1),
    );
  });
});
