/**
 * Reads the figures the Metrics view charts from `GET /metrics` (Prometheus text, see
 * src/observability/prometheus.ts): calls, errors by code, latency quantiles per method
 * (estimated from the histogram buckets, as Prometheus' histogram_quantile does) and the
 * queue depth. One request gives them all, so the view polls that every few seconds.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(LABEL))
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, "$1");
    const value = m[3] === "+Inf" ? Number.POSITIVE_INFINITY : Number(m[3]);
    if (!Number.isNaN(value)) samples.push({ name: m[1] as string, labels, value });
  }
  return samples;
}

export interface MethodFigures {
  method: string;
  calls: number;
  errors: number;
  /** Milliseconds; undefined before the method's first call. */
  p50?: number;
  p99?: number;
}

export interface MetricsReading {
  calls: number;
  errors: number;
  errorsByCode: Record<string, number>;
  queuePending: number;
  methods: MethodFigures[];
}

/** The `q` quantile (0..1) of a cumulative histogram, interpolated inside its bucket, in ms. */
export function quantile(buckets: readonly { le: number; count: number }[], q: number): number | undefined {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total === 0) return undefined;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const b of sorted) {
    if (b.count >= rank) {
      if (b.le === Number.POSITIVE_INFINITY) return lower * 1000; // beyond the last bound: its floor
      const within = b.count - below;
      const fraction = within > 0 ? (rank - below) / within : 1;
      return (lower + (b.le - lower) * fraction) * 1000;
    }
    lower = b.le;
    below = b.count;
  }
  return lower * 1000;
}

export function readMetrics(text: string): MetricsReading {
  const reading: MetricsReading = { calls: 0, errors: 0, errorsByCode: {}, queuePending: 0, methods: [] };
  const methods = new Map<string, MethodFigures>();
  const buckets = new Map<string, { le: number; count: number }[]>();
  const figures = (method: string) => {
    const known = methods.get(method);
    if (known) return known;
    const f: MethodFigures = { method, calls: 0, errors: 0 };
    methods.set(method, f);
    return f;
  };
  for (const s of parseSamples(text)) {
    const method = s.labels.method;
    if (s.name === "claudebench_calls_total" && method) {
      reading.calls += s.value;
      figures(method).calls += s.value;
    } else if (s.name === "claudebench_call_errors_total" && method) {
      reading.errors += s.value;
      figures(method).errors += s.value;
      const code = s.labels.code ?? "?";
      reading.errorsByCode[code] = (reading.errorsByCode[code] ?? 0) + s.value;
    } else if (s.name === "claudebench_call_duration_seconds_bucket" && method && s.labels.le) {
      const le = s.labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(s.labels.le);
      const list = buckets.get(method) ?? [];
      list.push({ le, count: s.value });
      buckets.set(method, list);
    } else if (s.name === "claudebench_queue_pending") reading.queuePending = s.value;
  }
  for (const [method, list] of buckets) {
    const f = figures(method);
    const p50 = quantile(list, 0.5);
    const p99 = quantile(list, 0.99);
    if (p50 !== undefined) f.p50 = p50;
    if (p99 !== undefined) f.p99 = p99;
  }
  reading.methods = [...methods.values()].sort((a, b) => b.calls - a.calls);
  return reading;
}
