/**
 * Building blocks of the fuzz test (test/e2e/fuzz.test.ts): a seeded PRNG, JSON text with
 * parts no JS value can produce (1e400, nesting thousands deep), odd strings and numbers, and
 * params built from a method's input JSON Schema that its validation must refuse.
 */

/** mulberry32: a tiny 32-bit PRNG, so that a seed replays the same cases. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rng {
  readonly #next: () => number;

  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }

  /** The generator of case `index` of a run: each case can be replayed alone (FUZZ_ONLY). */
  static forCase(seed: number, index: number): Rng {
    return new Rng(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35));
  }

  float(): number {
    return this.#next();
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.#next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.#next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#next() * items.length)] as T;
  }

  /** One of `weighted`'s keys, each as likely as its weight. */
  weighted<K extends string>(weighted: Record<K, number>): K {
    const entries = Object.entries(weighted) as [K, number][];
    let roll = this.#next() * entries.reduce((sum, [, w]) => sum + w, 0);
    for (const [key, weight] of entries) {
      roll -= weight;
      if (roll < 0) return key;
    }
    return (entries[entries.length - 1] as [K, number])[0];
  }
}

/**
 * A value written into JSON text as it is: `new Raw("1e400")`, or nesting thousands deep
 * (then `depth` says how deep).
 */
export class Raw {
  constructor(
    readonly text: string,
    readonly depth = 0,
  ) {}
}

/** JSON text of `value`, with every Raw written as its text. */
export function toJson(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_key, v: unknown) =>
    v instanceof Raw ? `\u0000raw${raws.push(v.text) - 1}\u0000` : v,
  );
  return text.replace(/"\\u0000raw(\d+)\\u0000"/g, (_, i: string) => raws[Number(i)] as string);
}

/** JSON nested (at least) `depth` levels deep, in one of a few shapes. */
export function deepJson(r: Rng, depth: number): Raw {
  const half = Math.ceil(depth / 2);
  const text = r.pick([
    () => `${"[".repeat(depth)}${"]".repeat(depth)}`,
    () => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`,
    () => `${'[{"k":'.repeat(half)}null${"}]".repeat(half)}`,
    () => `${"[1,".repeat(depth)}2${"]".repeat(depth)}`,
  ])();
  return new Raw(text, depth);
}

/**
 * Strings that have broken parsers and lookups elsewhere: empty and blank, control characters,
 * lone surrogates, direction overrides, zero-width and case-changing characters, names of
 * Object.prototype members, numbers and ids as text. None of them looks like a file path or a
 * stack frame, so that such text in an answer is the server's own.
 */
export const ODD_STRINGS: readonly string[] = [
  "",
  " ",
  "\t\r\n",
  "\u0000",
  "a\u0000b",
  "\u0001\u001f\u007f",
  "\ud800",
  "\udc00x",
  "\ud83d\ude00",
  "\u202eevil",
  "\u200b",
  "\ufeff",
  "Ａ",
  "İı",
  "ß",
  "e\u0301",
  "%00",
  "%",
  "%E0%A4%A",
  "../..",
  "..\\..",
  "<script>alert(1)</script>",
  "'; DROP TABLE tasks; --",
  "#{7*7}",
  "{{7*7}}",
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "valueOf",
  "t-",
  "t-0",
  "t--1",
  "t-1e3",
  "t-99999999999999999999999999999999",
  "-1",
  "NaN",
  "Infinity",
  "1e309",
  "null",
  "true",
  "0x10",
  "*",
  "master",
  "cb:{q}:tasks",
  "a,b",
];

/** Numbers (and number texts) at the edges: overflowing, negative, fractional, beyond 2^53. */
export const ODD_NUMBERS: readonly unknown[] = [
  new Raw("1e400"),
  new Raw("-1e400"),
  new Raw("1e-400"),
  new Raw("-0"),
  new Raw("123456789012345678901234567890"),
  new Raw("0.1e1"),
  -1,
  0,
  0.5,
  1.5,
  2 ** 31,
  2 ** 53 + 2,
  -(2 ** 63),
  Number.MAX_VALUE,
  Number.MIN_VALUE,
];

/** Keys no schema declares, some of them Object.prototype's. */
export const ODD_KEYS: readonly string[] = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "",
  " ",
  "\u0000",
  "a.b",
  "$where",
  "k".repeat(300),
];

/** A string of `length` copies of one character, an odd one now and then. */
export function longString(r: Rng, length: number): string {
  return r.pick(["a", "é", "😀", "\u0000", "\ud800", " ", "%"]).repeat(length);
}

export type Schema = Record<string, unknown>;

const jsonType = (v: unknown): string =>
  v === null ? "null" : Array.isArray(v) ? "array" : typeof v === "number" ? "number" : typeof v;

/**
 * The JSON types a schema admits ("integer": whole numbers only), or null when it admits any
 * value. Only types: a value of a type outside the set is refused by the schema, whatever its
 * other keywords say.
 */
export function admittedTypes(schema: Schema): Set<string> | null {
  const branches = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (Array.isArray(branches)) {
    const all = new Set<string>();
    for (const branch of branches) {
      const types = admittedTypes(branch);
      if (!types) return null;
      for (const t of types) all.add(t);
    }
    return all;
  }
  if ("const" in schema) return new Set([jsonType(schema.const)]);
  if (Array.isArray(schema.enum)) return new Set(schema.enum.map(jsonType));
  if (typeof schema.type === "string") return new Set([schema.type]);
  if (Array.isArray(schema.type)) return new Set(schema.type as string[]);
  return null;
}

/** A value of a JSON type `admitted` does not contain, or undefined when there is none. */
export function violatingValue(r: Rng, admitted: Set<string>): unknown {
  const candidates: [string, unknown][] = [
    ["string", r.pick(["x", "1", "true", "null", "[]", "t-1"])],
    ["number", r.pick([1.5, -0.25, 1e-7])],
    ["boolean", r.chance(0.5)],
    ["null", null],
    ["array", r.pick([[], [1], [{}], [null, "x"]])],
    ["object", r.pick([{}, { a: 1 }, { "": null }])],
  ];
  const allowed = candidates.filter(([type]) => {
    if (type === "number") return !admitted.has("number");
    return !admitted.has(type);
  });
  return allowed.length > 0 ? r.pick(allowed)[1] : undefined;
}

const NONEXISTENT_TASK = (r: Rng) => `t-${r.int(900_000_000, 999_999_999)}`;

/** A value that fits `schema` (mostly: patterns other than the known ones are guessed). */
export function plausibleValue(r: Rng, schema: Schema, depth = 0): unknown {
  const branches = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (Array.isArray(branches) && branches.length > 0) return plausibleValue(r, r.pick(branches), depth);
  if ("const" in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return r.pick(schema.enum);
  const type = Array.isArray(schema.type) ? r.pick(schema.type as string[]) : schema.type;
  switch (type) {
    case "string": {
      const pattern = String(schema.pattern ?? "");
      // Ids of tasks that do not exist: a call that slips through validation changes nothing.
      if (pattern.includes("t-")) return NONEXISTENT_TASK(r);
      if (pattern.startsWith("^\\d+-")) return `${r.int(1, 9)}-0`;
      if (pattern === "\\/") return "fuzz/project";
      if (pattern) return `fuzz-${r.int(0, 999)}`;
      const min = Number(schema.minLength ?? 0);
      const max = Math.min(Number(schema.maxLength ?? 24), 24);
      return "f".repeat(Math.max(min, Math.min(max, r.int(1, 12))));
    }
    case "integer": {
      const lo = Number(schema.minimum ?? 0);
      const hi = Math.min(Number(schema.maximum ?? lo + 1000), lo + 1000);
      return r.int(lo, hi);
    }
    case "number":
      return r.int(0, 10_000) / 8;
    case "boolean":
      return r.chance(0.5);
    case "null":
      return null;
    case "array": {
      if (depth > 3) return [];
      const items = (schema.items ?? {}) as Schema;
      const count = Math.max(Number(schema.minItems ?? 0), r.int(0, 2));
      return Array.from({ length: count }, () => plausibleValue(r, items, depth + 1));
    }
    case "object": {
      if (depth > 3) return {};
      const properties = (schema.properties ?? {}) as Record<string, Schema>;
      const required = new Set((schema.required ?? []) as string[]);
      const value: Record<string, unknown> = {};
      for (const [key, sub] of Object.entries(properties)) {
        if (required.has(key) || r.chance(0.4)) value[key] = plausibleValue(r, sub, depth + 1);
      }
      if (Object.keys(properties).length === 0 && r.chance(0.5)) value[`k${r.int(0, 9)}`] = r.int(0, 9);
      return value;
    }
    default:
      return r.pick([1, "x", true, null, {}, [], { a: [1, { b: "c" }] }]);
  }
}

/** Params built for a method, with what was done to them. */
export interface FuzzedParams {
  value: unknown;
  /** One short line per mutation, for the failure report. */
  notes: string[];
  /** Validation refuses them for certain (see certainlyRefused). */
  refused: boolean;
}

/** Nesting past JSON_MAX_DEPTH (64) is refused before any schema looks at the params. */
export const OVER_DEPTH = 65;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Raw);

const propertiesOf = (schema: Schema) => (schema.properties ?? {}) as Record<string, Schema>;

function admits(admitted: Set<string>, value: unknown): boolean {
  if (value instanceof Raw) return admitted.has("number") || admitted.has("integer") || value.depth > 0;
  const type = jsonType(value);
  if (type === "number")
    return admitted.has("number") || (admitted.has("integer") && Number.isInteger(value));
  return admitted.has(type);
}

function nestedTooDeep(value: unknown): boolean {
  if (value instanceof Raw) return value.depth >= OVER_DEPTH;
  if (Array.isArray(value)) return value.some(nestedTooDeep);
  if (isObject(value)) return Object.values(value).some(nestedTooDeep);
  return false;
}

/**
 * Whether input validation must refuse `value` for `schema`, whatever the Zod refinements
 * behind it: a value of a type the schema does not admit (at any declared level), a missing
 * required field, or nesting deeper than the dispatcher's limit anywhere.
 */
export function certainlyRefused(value: unknown, schema: Schema): boolean {
  return nestedTooDeep(value) || refusedByType(value, schema);
}

function refusedByType(value: unknown, schema: Schema): boolean {
  const admitted = admittedTypes(schema);
  if (admitted && !admits(admitted, value)) return true;
  if (isObject(value)) {
    for (const key of (schema.required ?? []) as string[]) if (!Object.hasOwn(value, key)) return true;
    for (const [key, sub] of Object.entries(propertiesOf(schema))) {
      if (Object.hasOwn(value, key) && refusedByType(value[key], sub)) return true;
    }
  }
  if (Array.isArray(value) && isObject(schema.items)) {
    return value.some((item) => refusedByType(item, schema.items as Schema));
  }
  return false;
}

/** How deep a nested value and how long a string a mutation may make. */
export interface ParamLimits {
  maxDepth: number;
  maxString: number;
}

/** For one call in a body of its own: up to about the body limit of the fuzz test. */
export const LARGE: ParamLimits = { maxDepth: 10_000, maxString: 60_000 };
/** For calls many of which share a body (batches). */
export const SMALL: ParamLimits = { maxDepth: OVER_DEPTH + 5, maxString: 201 };

/**
 * Params for a method whose input JSON Schema is `schema`: a plausible object, then one to
 * three mutations (wrong types, odd strings and numbers, long strings, unknown and prototype
 * keys, nulls, arrays for objects, deep nesting), in nested objects too. With `mustRefuse`
 * the result is made certain to fail validation (`refused`): the fuzzer never sends a call
 * that could change state by accident.
 */
export function fuzzParams(
  r: Rng,
  schema: Schema,
  { mustRefuse, limits = LARGE }: { mustRefuse: boolean; limits?: ParamLimits },
): FuzzedParams {
  const notes: string[] = [];
  const value = plausibleValue(r, schema) as Record<string, unknown>;
  const mutations = r.int(1, 3);
  for (let i = 0; i < mutations; i++) mutate(r, value, schema, notes, "", limits);
  if (mustRefuse && !certainlyRefused(value, schema)) forceRefusal(r, value, schema, notes);
  if (mustRefuse && !certainlyRefused(value, schema)) {
    notes.push("params not an object");
    return { value: r.pick([[], [value], "params", 7, true]), notes, refused: true };
  }
  return { value, notes, refused: certainlyRefused(value, schema) };
}

/** Gives one declared field a value of a type it does not admit, else drops a required one. */
function forceRefusal(r: Rng, value: Record<string, unknown>, schema: Schema, notes: string[]): void {
  const typed = Object.entries(propertiesOf(schema)).filter(([, sub]) => admittedTypes(sub) !== null);
  if (typed.length > 0) {
    const [key, sub] = r.pick(typed);
    const wrong = violatingValue(r, admittedTypes(sub) as Set<string>);
    if (wrong !== undefined) {
      value[key] = wrong;
      notes.push(`${key} ← ${JSON.stringify(wrong)} (wrong type)`);
      return;
    }
  }
  const required = (schema.required ?? []) as string[];
  if (required.length > 0) {
    const key = r.pick(required);
    delete value[key];
    notes.push(`${key} dropped (required)`);
  }
}

/** Applies one mutation to `value`, an object for `schema`. */
function mutate(
  r: Rng,
  value: Record<string, unknown>,
  schema: Schema,
  notes: string[],
  path: string,
  limits: ParamLimits,
): void {
  const properties = propertiesOf(schema);
  const keys = Object.keys(properties);
  const key = keys.length > 0 ? r.pick(keys) : `extra${r.int(0, 9)}`;
  const sub = properties[key] ?? {};
  const at = `${path}${key}`;
  const kind = r.weighted({
    wrongType: 4,
    nested: 2,
    dropRequired: 1,
    oddString: 2,
    oddNumber: 2,
    longString: 1,
    unknownKey: 2,
    nullValue: 1,
    arrayForObject: 1,
    deep: 1,
  });
  switch (kind) {
    case "wrongType": {
      const admitted = admittedTypes(sub);
      const wrong = admitted ? violatingValue(r, admitted) : undefined;
      if (wrong === undefined) return;
      value[key] = wrong;
      notes.push(`${at} ← ${JSON.stringify(wrong)} (wrong type)`);
      return;
    }
    case "nested": {
      // Into a field that is an object (or an array of objects) with declared fields.
      const itemSchema = (sub.type === "array" ? sub.items : sub) as Schema | undefined;
      if (itemSchema?.type !== "object" || !itemSchema.properties) return;
      const inner = plausibleValue(r, itemSchema) as Record<string, unknown>;
      mutate(r, inner, itemSchema, notes, `${at}.`, limits);
      value[key] = sub.type === "array" ? [inner] : inner;
      return;
    }
    case "dropRequired": {
      const required = (schema.required ?? []) as string[];
      if (required.length === 0) return;
      const dropped = r.pick(required);
      delete value[dropped];
      notes.push(`${path}${dropped} dropped (required)`);
      return;
    }
    case "oddString": {
      const odd = r.pick(ODD_STRINGS);
      value[key] = odd;
      notes.push(`${at} ← ${JSON.stringify(odd)}`);
      return;
    }
    case "oddNumber": {
      const odd = r.pick(ODD_NUMBERS);
      value[key] = odd;
      notes.push(`${at} ← ${odd instanceof Raw ? odd.text : String(odd)}`);
      return;
    }
    case "longString": {
      const length = r.pick(
        [129, 201, 2001, 10_001, r.int(20_000, 60_000)].filter((n) => n <= limits.maxString),
      );
      value[key] = longString(r, length);
      notes.push(`${at} ← string of ${length}`);
      return;
    }
    case "unknownKey": {
      const odd = r.pick(ODD_KEYS);
      // defineProperty: `obj.__proto__ = x` would set the prototype, not a key.
      Object.defineProperty(value, odd, {
        value: r.pick<unknown>([1, "x", null, {}, { polluted: true }, []]),
        enumerable: true,
        configurable: true,
        writable: true,
      });
      notes.push(`unknown key ${JSON.stringify(odd)}${path ? ` in ${path}` : ""}`);
      return;
    }
    case "nullValue":
      value[key] = null;
      notes.push(`${at} ← null`);
      return;
    case "arrayForObject":
      value[key] = r.pick([[], [value[key] ?? 1], [{}]]);
      notes.push(`${at} ← array`);
      return;
    case "deep": {
      const deep = deepJson(r, r.int(OVER_DEPTH, limits.maxDepth));
      value[key] = deep;
      notes.push(`${at} ← nested ${deep.depth} deep`);
      return;
    }
  }
}
