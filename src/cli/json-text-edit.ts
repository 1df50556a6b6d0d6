/**
 * A JSON text edited in place, one member or element at a time, so that everything around the
 * edit stays as it was, byte for byte: the user's formatting, key order and other entries. A
 * new value is indented like its neighbours (or kept on one line when they are). The text must
 * be valid JSON (the caller checks it with JSON.parse first).
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export const isObject = (v: unknown): v is JsonObject =>
  typeof v === "object" && v !== null && !Array.isArray(v);

interface Node {
  start: number;
  /** Exclusive. */
  end: number;
  value: Json;
  /** Objects: members in order (start = the key's opening quote). */
  members?: { key: string; start: number; end: number; node: Node }[];
  /** Arrays: elements in order. */
  items?: Node[];
}

/** Parses valid JSON (JSON.parse checked it) keeping where each value and member is. */
function locate(text: string): Node {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
  };
  const string = (): string => {
    const start = i++;
    while (text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (): Node => {
    ws();
    const start = i;
    const c = text[i];
    if (c === "{") {
      i++;
      const members: NonNullable<Node["members"]> = [];
      ws();
      if (text[i] === "}") i++;
      else {
        for (;;) {
          ws();
          const keyStart = i;
          const key = string();
          ws();
          i++; // :
          const node = value();
          members.push({ key, start: keyStart, end: node.end, node });
          ws();
          if (text[i++] === "}") break; // else ","
        }
      }
      const obj: JsonObject = {};
      for (const m of members) obj[m.key] = m.node.value;
      return { start, end: i, value: obj, members };
    }
    if (c === "[") {
      i++;
      const items: Node[] = [];
      ws();
      if (text[i] === "]") i++;
      else {
        for (;;) {
          items.push(value());
          ws();
          if (text[i++] === "]") break;
        }
      }
      return { start, end: i, value: items.map((n) => n.value), items };
    }
    if (c === '"') {
      const s = string();
      return { start, end: i, value: s };
    }
    while (i < text.length && /[^\s,\]}]/.test(text[i] as string)) i++;
    return { start, end: i, value: JSON.parse(text.slice(start, i)) as Json };
  };
  return value();
}

/** The node at `path` (object keys and array indexes). */
function nodeAt(root: Node, path: readonly (string | number)[]): Node {
  let node = root;
  for (const step of path) {
    const next =
      typeof step === "number" ? node.items?.[step] : node.members?.find((m) => m.key === step)?.node;
    if (!next) throw new Error(`no ${JSON.stringify(step)} in JSON path ${JSON.stringify(path)}`);
    node = next;
  }
  return node;
}

/** One level of indentation in the file: a tab, or the first indented line's spaces; 2 spaces by default. */
function indentUnit(text: string): string {
  const first = /\n([ \t]+)\S/.exec(text);
  if (!first) return "  ";
  return (first[1] as string).startsWith("\t") ? "\t" : (first[1] as string);
}

/** The whitespace that starts the line `at` is on. */
function lineIndent(text: string, at: number): string {
  const lineStart = text.lastIndexOf("\n", at - 1) + 1;
  return /^[ \t]*/.exec(text.slice(lineStart))?.[0] ?? "";
}

const splice = (text: string, start: number, end: number, insert: string) =>
  text.slice(0, start) + insert + text.slice(end);

/** `value` on one line, spaced like `{"a": 1, "b": [2, 3]}`. */
function inlineJson(value: Json): string {
  if (Array.isArray(value)) return `[${value.map(inlineJson).join(", ")}]`;
  if (isObject(value))
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}: ${inlineJson(v)}`)
      .join(", ")}}`;
  return JSON.stringify(value);
}

/** `value` printed for a place whose line starts with `indent` (multi-line), or on one line. */
function print(value: Json, indent: string, unit: string, inline: boolean): string {
  if (inline) return inlineJson(value);
  return JSON.stringify(value, null, unit).replace(/\n/g, `\n${indent}`);
}

/** Appends an element (`key` undefined) or a member to the container at `path`. */
export function append(text: string, path: readonly (string | number)[], value: Json, key?: string): string {
  const container = nodeAt(locate(text), path);
  const unit = indentUnit(text);
  const children: { start: number; end: number }[] = container.items ?? container.members ?? [];
  const label = key === undefined ? "" : `${JSON.stringify(key)}: `;
  const first = children[0];
  const last = children[children.length - 1];
  if (!first || !last) {
    const outer = lineIndent(text, container.start);
    const entry = label + print(value, outer + unit, unit, false);
    return splice(text, container.start + 1, container.end - 1, `\n${outer}${unit}${entry}\n${outer}`);
  }
  // Laid out like the siblings: one per line at their indentation, or all on one line.
  const inline = !text.slice(container.start, first.start).includes("\n");
  const indent = inline ? "" : lineIndent(text, first.start);
  const second = children[1];
  const separator = !inline ? `,\n${indent}` : second ? text.slice(first.end, second.start) : ", ";
  return splice(text, last.end, last.end, separator + label + print(value, indent, unit, inline));
}

/** Removes the element `index` or the member `key` of the container at `path`. */
export function remove(text: string, path: readonly (string | number)[], which: number | string): string {
  const container = nodeAt(locate(text), path);
  const children = (container.items ?? container.members ?? []) as {
    start: number;
    end: number;
    key?: string;
  }[];
  const i = typeof which === "number" ? which : children.findIndex((c) => c.key === which);
  const child = children[i];
  if (!child) return text;
  if (children.length === 1) return splice(text, container.start + 1, container.end - 1, "");
  const next = children[i + 1];
  if (next) return splice(text, child.start, next.start, "");
  return splice(text, (children[i - 1] as { end: number }).end, child.end, "");
}

/** Replaces the value at `path` (kept on one line when it was a one-line object or array). */
export function replace(text: string, path: readonly (string | number)[], value: Json): string {
  const node = nodeAt(locate(text), path);
  const old = text.slice(node.start, node.end);
  const inline = /^[[{]/.test(old) && !old.includes("\n") && old.length > 2;
  return splice(
    text,
    node.start,
    node.end,
    print(value, lineIndent(text, node.start), indentUnit(text), inline),
  );
}

/** Do `a` and `b` hold the same JSON value (object key order aside)? */
export const sameJson = (a: unknown, b: unknown): boolean => {
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]))
    );
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && sameJson(a[k], b[k]));
  }
  return a === b;
};
