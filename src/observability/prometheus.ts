/**
 * The Prometheus text exposition format (version 0.0.4), written by hand: a handful of
 * metric families rendered at scrape time from figures the server keeps anyway, with no
 * per-call bookkeeping of its own (prom-client would count every call a second time).
 *
 * A `Collector` returns metric families when scraped; `MetricsRegistry` renders all of its
 * collectors into one response. Other modules add theirs with `register` (the extension
 * point: e.g. the circuit breaker's state gauge).
 */

const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Labels = Readonly<Record<string, string>>;

export interface Sample {
  readonly labels?: Labels;
  readonly value: number;
}

export interface HistogramSample {
  readonly labels?: Labels;
  /** Upper bounds (ascending, without +Inf) and the cumulative count at each. */
  readonly buckets: readonly (readonly [le: number, count: number])[];
  readonly sum: number;
  readonly count: number;
}

export type MetricFamily =
  | {
      readonly name: string;
      readonly help: string;
      readonly type: "counter" | "gauge";
      readonly samples: readonly Sample[];
    }
  | {
      readonly name: string;
      readonly help: string;
      readonly type: "histogram";
      readonly samples: readonly HistogramSample[];
    };

/** Produces metric families at scrape time. May read Redis; must not throw for a missing figure. */
export type Collector = () => MetricFamily[] | Promise<MetricFamily[]>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** HELP text: backslash and newline escaped. */
const escapeHelp = (s: string) => s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
/** Label values: backslash, double quote and newline escaped. */
const escapeLabel = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

function formatValue(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Number.POSITIVE_INFINITY) return "+Inf";
  if (n === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(n);
}

function formatLabels(labels: Labels | undefined, extra?: [string, string]): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(labels ?? {})) {
    if (!LABEL_NAME.test(name) || name.startsWith("__")) throw new Error(`invalid label name ${name}`);
    parts.push(`${name}="${escapeLabel(value)}"`);
  }
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** One family: HELP, TYPE, then its samples (a histogram's as _bucket … +Inf, _sum, _count). */
export function formatFamily(family: MetricFamily): string {
  if (!METRIC_NAME.test(family.name)) throw new Error(`invalid metric name ${family.name}`);
  const { name } = family;
  const lines = [`# HELP ${name} ${escapeHelp(family.help)}`, `# TYPE ${name} ${family.type}`];
  if (family.type === "histogram") {
    for (const h of family.samples) {
      for (const [le, count] of h.buckets) {
        lines.push(`${name}_bucket${formatLabels(h.labels, ["le", formatValue(le)])} ${formatValue(count)}`);
      }
      lines.push(`${name}_bucket${formatLabels(h.labels, ["le", "+Inf"])} ${formatValue(h.count)}`);
      lines.push(`${name}_sum${formatLabels(h.labels)} ${formatValue(h.sum)}`);
      lines.push(`${name}_count${formatLabels(h.labels)} ${formatValue(h.count)}`);
    }
  } else {
    for (const s of family.samples) lines.push(`${name}${formatLabels(s.labels)} ${formatValue(s.value)}`);
  }
  return `${lines.join("\n")}\n`;
}

export class MetricsRegistry {
  /** The media type of what `render` returns. */
  readonly contentType = PROMETHEUS_CONTENT_TYPE;
  readonly #collectors: Collector[] = [];

  /** Adds a collector; its families are rendered after those registered before it. */
  register(collector: Collector): void {
    this.#collectors.push(collector);
  }

  /** Every collector's families as one exposition-format document. A name may appear once. */
  async render(): Promise<string> {
    const families = (await Promise.all(this.#collectors.map((collect) => collect()))).flat();
    const seen = new Set<string>();
    let out = "";
    for (const family of families) {
      if (seen.has(family.name)) throw new Error(`metric family ${family.name} rendered twice`);
      seen.add(family.name);
      out += formatFamily(family);
    }
    return out;
  }
}
