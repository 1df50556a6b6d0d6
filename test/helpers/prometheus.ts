/**
 * A strict parser of the Prometheus text exposition format (0.0.4), independent of the
 * server's writer: it throws on anything a Prometheus server would refuse or that breaks
 * the format's rules (a sample before its TYPE, families interleaved, bad escapes, a
 * histogram whose buckets are not cumulative or whose +Inf bucket differs from _count).
 */

export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedFamily {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help: string;
  samples: ParsedSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

function parseValue(text: string, line: number): number {
  if (text === "+Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  if (text === "NaN") return Number.NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text))
    throw new Error(`line ${line}: bad value ${text}`);
  return Number(text);
}

function unescapeText(text: string, allowQuote: boolean, line: number): string {
  return text.replace(/\\(.)/g, (_, c: string) => {
    if (c === "\\") return "\\";
    if (c === "n") return "\n";
    if (c === '"' && allowQuote) return '"';
    throw new Error(`line ${line}: bad escape \\${c}`);
  });
}

function parseLabels(text: string, line: number): [Record<string, string>, string] {
  const labels: Record<string, string> = {};
  let rest = text.slice(1);
  for (;;) {
    if (rest.startsWith("}")) return [labels, rest.slice(1)];
    const name = LABEL.exec(rest)?.[0];
    if (!name) throw new Error(`line ${line}: bad label name at ${rest}`);
    rest = rest.slice(name.length);
    if (!rest.startsWith('="')) throw new Error(`line ${line}: expected =" after ${name}`);
    rest = rest.slice(2);
    const end = /^((?:[^"\\\n]|\\.)*)"/.exec(rest);
    if (!end) throw new Error(`line ${line}: unterminated value of ${name}`);
    if (name in labels) throw new Error(`line ${line}: label ${name} twice`);
    labels[name] = unescapeText(end[1] as string, true, line);
    rest = rest.slice((end[0] as string).length);
    if (rest.startsWith(",")) rest = rest.slice(1);
    else if (!rest.startsWith("}")) throw new Error(`line ${line}: expected , or } at ${rest}`);
  }
}

/** The family a sample belongs to: its name, or the histogram/summary it is a _bucket/_sum/_count of. */
function familyOf(sample: string, families: Map<string, ParsedFamily>): ParsedFamily | undefined {
  const own = families.get(sample);
  if (own) return own;
  const m = /^(.*)_(bucket|sum|count)$/.exec(sample);
  const base = m && families.get(m[1] as string);
  if (!base) return undefined;
  if (base.type === "histogram" || (base.type === "summary" && m[2] !== "bucket")) return base;
  return undefined;
}

export function parsePrometheus(text: string): Map<string, ParsedFamily> {
  if (text !== "" && !text.endsWith("\n")) throw new Error("the document must end with a newline");
  const families = new Map<string, ParsedFamily>();
  const closed = new Set<string>();
  let current: ParsedFamily | undefined;
  const lines = text.split("\n").slice(0, -1);
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === "") return;
    if (raw.startsWith("#")) {
      const m = /^# (HELP|TYPE) ([^ ]+) ?(.*)$/.exec(raw);
      if (!m) return; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!NAME.test(name) || NAME.exec(name)?.[0] !== name)
        throw new Error(`line ${line}: bad metric name ${name}`);
      if (closed.has(name)) throw new Error(`line ${line}: family ${name} is interleaved with another`);
      let family = families.get(name);
      if (!family) {
        family = { name, type: "untyped", help: "", samples: [] };
        families.set(name, family);
      } else if (family.samples.length > 0) {
        throw new Error(`line ${line}: ${kind} of ${name} after its samples`);
      }
      if (current && current !== family) closed.add(current.name);
      current = family;
      if (kind === "TYPE") {
        if (!TYPES.has(rest)) throw new Error(`line ${line}: unknown type ${rest}`);
        family.type = rest as ParsedFamily["type"];
      } else {
        family.help = unescapeText(rest, false, line);
      }
      return;
    }
    const name = NAME.exec(raw)?.[0];
    if (!name) throw new Error(`line ${line}: bad sample ${raw}`);
    let rest = raw.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith("{")) [labels, rest] = parseLabels(rest, line);
    const parts = rest.split(" ");
    if (parts[0] !== "" || parts.length < 2 || parts.length > 3)
      throw new Error(`line ${line}: bad sample ${raw}`);
    const value = parseValue(parts[1] as string, line);
    const family = familyOf(name, families);
    if (!family) throw new Error(`line ${line}: sample ${name} without a TYPE`);
    if (closed.has(family.name))
      throw new Error(`line ${line}: family ${family.name} is interleaved with another`);
    if (current && current !== family) closed.add(current.name);
    current = family;
    family.samples.push({ name, labels, value });
  });
  for (const family of families.values()) check(family);
  return families;
}

/** A family's own rules: counters not negative; histogram series with cumulative buckets ending at +Inf = _count. */
function check(family: ParsedFamily): void {
  if (family.type === "counter") {
    for (const s of family.samples) {
      if (!(s.value >= 0)) throw new Error(`${s.name}: counter value ${s.value}`);
    }
  }
  if (family.type !== "histogram") return;
  const series = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    let entry = series.get(key);
    if (!entry) {
      entry = { buckets: [] };
      series.set(key, entry);
    }
    if (s.name === `${family.name}_bucket`) {
      if (le === undefined) throw new Error(`${s.name}: bucket without le`);
      entry.buckets.push([parseValue(le, 0), s.value]);
    } else if (s.name === `${family.name}_sum`) entry.sum = s.value;
    else if (s.name === `${family.name}_count`) entry.count = s.value;
    else throw new Error(`${s.name}: not a histogram sample`);
  }
  for (const [key, { buckets, sum, count }] of series) {
    if (sum === undefined || count === undefined)
      throw new Error(`${family.name}${key}: _sum or _count missing`);
    const last = buckets[buckets.length - 1];
    if (!last || last[0] !== Number.POSITIVE_INFINITY)
      throw new Error(`${family.name}${key}: no +Inf bucket last`);
    if (last[1] !== count) throw new Error(`${family.name}${key}: +Inf bucket ${last[1]} != _count ${count}`);
    for (let i = 1; i < buckets.length; i++) {
      const [le, n] = buckets[i] as [number, number];
      const [prevLe, prevN] = buckets[i - 1] as [number, number];
      if (!(le > prevLe)) throw new Error(`${family.name}${key}: le not ascending at ${le}`);
      if (n < prevN)
        throw new Error(`${family.name}${key}: bucket le=${le} (${n}) below le=${prevLe} (${prevN})`);
    }
  }
}

/** The value of the one sample of `family` with exactly these labels (0 when there is none). */
export function sampleValue(
  families: Map<string, ParsedFamily>,
  sampleName: string,
  labels: Record<string, string> = {},
  family = sampleName,
): number {
  const want = JSON.stringify(Object.entries(labels).sort());
  const found = families
    .get(family)
    ?.samples.filter(
      (s) => s.name === sampleName && JSON.stringify(Object.entries(s.labels).sort()) === want,
    );
  if (found && found.length > 1) throw new Error(`${sampleName}${want}: ${found.length} samples`);
  return found?.[0]?.value ?? 0;
}
