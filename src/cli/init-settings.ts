/**
 * `claudebench init`, the pure part: ClaudeBench's hook entries merged into Claude Code's
 * `.claude/settings.json` and its MCP server into `.mcp.json`, and taken out again.
 *
 * The files belong to the user: everything we do not own stays as it was, byte for byte — the
 * JSON is edited in place (insert, replace or delete one member at a time, indented like its
 * neighbours), never parsed and printed again. Our hook handlers are recognised by what they
 * call (a URL ending in `/hook/claude`, a command running `claudebench hook`), so running init
 * twice changes nothing, switching between --http and --command replaces ours, and --uninstall
 * removes only ours (and the containers that emptied because of it).
 */

export type HookKind = "http" | "command";

export interface InitOptions {
  kind: HookKind;
  /** The server's base URL, without a trailing slash. */
  url: string;
  /** A bearer token is configured: the entries send it, by reference to $CLAUDEBENCH_TOKEN. */
  token: boolean;
  /**
   * Command hooks: the shell words that run this `claudebench` wherever Claude Code runs the
   * hook (absolute paths: `npx claudebench` fails outside a project that installed it).
   */
  cli: string;
}

export const DEFAULT_URL = "http://127.0.0.1:3000";
export const TOKEN_ENV = "CLAUDEBENCH_TOKEN";
export const MCP_NAME = "claudebench";
/** Seconds Claude Code waits for one hook (its default is 600). */
export const HOOK_TIMEOUT_S = 10;

/**
 * The events ClaudeBench listens to (docs/claude-code.md, "What each hook does"), with their
 * matcher (tool events only). Every tool, after it too: post_tool hook links may act after any.
 */
export const HOOK_EVENTS: readonly { event: string; matcher?: string }[] = [
  { event: "PreToolUse", matcher: "*" },
  { event: "PostToolUse", matcher: "*" },
  { event: "PostToolUseFailure", matcher: "*" },
  { event: "UserPromptSubmit" },
  { event: "SessionStart" },
  { event: "SessionEnd" },
  { event: "Stop" },
  { event: "SubagentStart" },
  { event: "SubagentStop" },
  { event: "Notification" },
  { event: "PreCompact" },
  { event: "TaskCreated" },
  { event: "TaskCompleted" },
];

export class InitError extends Error {
  override name = "InitError";
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

/** The hook handler ClaudeBench installs. */
export function hookHandler(opts: InitOptions): JsonObject {
  if (opts.kind === "command") {
    const command = `${opts.cli} hook${opts.url === DEFAULT_URL ? "" : ` --url ${shellWord(opts.url)}`}`;
    return { type: "command", command, timeout: HOOK_TIMEOUT_S };
  }
  return {
    type: "http",
    url: `${opts.url}/hook/claude`,
    timeout: HOOK_TIMEOUT_S,
    ...(opts.token
      ? { headers: { Authorization: `Bearer $${TOKEN_ENV}` }, allowedEnvVars: [TOKEN_ENV] }
      : {}),
  };
}

/** `word` as one shell word: as it is when that is safe, else in single quotes. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The `.mcp.json` server entry. */
export function mcpServer(opts: InitOptions): JsonObject {
  return {
    type: "http",
    url: `${opts.url}/mcp`,
    ...(opts.token ? { headers: { Authorization: `Bearer \${${TOKEN_ENV}}` } } : {}),
  };
}

/** Is this hook handler one of ClaudeBench's (any URL, any flags)? */
export function isOurHook(handler: unknown): boolean {
  if (!isObject(handler)) return false;
  if (handler.type === "http" && typeof handler.url === "string")
    return /\/hook\/claude\/?(\?.*)?$/.test(handler.url);
  if (handler.type === "command" && typeof handler.command === "string")
    return /(^|[\s/"'])claudebench(\.js)?["']?\s+hook(\s|$)/.test(handler.command);
  return false;
}

// ------------------------------------------------------------------ JSON edited in place

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
function append(text: string, path: readonly (string | number)[], value: Json, key?: string): string {
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
function remove(text: string, path: readonly (string | number)[], which: number | string): string {
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
function replace(text: string, path: readonly (string | number)[], value: Json): string {
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

function parseFile(text: string | null, path: string): { text: string; value: JsonObject } {
  if (text === null || text.trim() === "") return { text: "{}\n", value: {} };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InitError(
      `${path} is not valid JSON (${(err as Error).message}); fix it first, nothing was written`,
    );
  }
  if (!isObject(value))
    throw new InitError(`${path} is not a JSON object; fix it first, nothing was written`);
  return { text, value };
}

const sameJson = (a: unknown, b: unknown): boolean => {
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

/** A file's new text (null: delete it; same as before: no change) and what changed. */
export interface FilePlan {
  before: string | null;
  after: string | null;
  changes: string[];
}

const finish = (before: string | null, after: string, changes: string[]): FilePlan =>
  changes.length ? { before, after, changes } : { before, after: before, changes };

/** Our hook groups in `settings.hooks[event]`: [group index, handler index], last first. */
function ours(groups: Json[]): [number, number][] {
  const found: [number, number][] = [];
  groups.forEach((g, gi) => {
    const handlers = isObject(g) && Array.isArray(g.hooks) ? g.hooks : [];
    handlers.forEach((h, hi) => {
      if (isOurHook(h)) found.push([gi, hi]);
    });
  });
  return found.reverse();
}

/** Removes our handlers from one event's groups, and the groups that held only ours. */
function removeOurs(text: string, event: string): string {
  const groups = (parseFile(text, "").value.hooks as JsonObject)[event] as Json[];
  for (const [gi, hi] of ours(groups)) {
    const group = groups[gi] as JsonObject;
    if ((group.hooks as Json[]).length === 1) text = remove(text, ["hooks", event], gi);
    else text = remove(text, ["hooks", event, gi, "hooks"], hi);
  }
  return text;
}

/** `.claude/settings.json` with ClaudeBench's hooks: added, replaced when they differ, else untouched. */
export function installHooks(before: string | null, opts: InitOptions, path = "settings.json"): FilePlan {
  let { text, value } = parseFile(before, path);
  if (value.hooks !== undefined && !isObject(value.hooks))
    throw new InitError(`${path}: "hooks" is not an object; fix it first, nothing was written`);
  const changes: string[] = [];
  if (value.hooks === undefined) text = append(text, [], {}, "hooks");
  const handler = hookHandler(opts);
  for (const { event, matcher } of HOOK_EVENTS) {
    const group: JsonObject = { ...(matcher ? { matcher } : {}), hooks: [handler] };
    const hooks = parseFile(text, path).value.hooks as JsonObject;
    const groups = hooks[event];
    if (groups === undefined) {
      text = append(text, ["hooks"], [group], event);
      changes.push(`added ${event}`);
      continue;
    }
    if (!Array.isArray(groups))
      throw new InitError(`${path}: hooks.${event} is not an array; fix it first, nothing was written`);
    const found = ours(groups);
    const [gi] = found[0] ?? [];
    if (found.length === 1 && gi !== undefined && sameJson(groups[gi], group)) continue;
    text = removeOurs(text, event);
    text = append(text, ["hooks", event], group);
    changes.push(`${found.length ? "updated" : "added"} ${event}`);
  }
  return finish(before, text, changes);
}

/** Whether removing left the whole file empty (`{}`): it is then deleted. */
const emptied = (text: string) => {
  const value = JSON.parse(text) as JsonObject;
  return Object.keys(value).length === 0;
};

/** `.claude/settings.json` without ClaudeBench's hooks (and the containers that held only them). */
export function uninstallHooks(before: string | null, path = "settings.json"): FilePlan {
  if (before === null) return { before, after: null, changes: [] };
  let { text, value } = parseFile(before, path);
  if (!isObject(value.hooks)) return finish(before, text, []);
  const changes: string[] = [];
  for (const [event, groups] of Object.entries(value.hooks)) {
    if (!Array.isArray(groups) || ours(groups).length === 0) continue;
    text = removeOurs(text, event);
    changes.push(`removed ${event}`);
    const left = (parseFile(text, path).value.hooks as JsonObject)[event] as Json[];
    if (left.length === 0) text = remove(text, ["hooks"], event);
  }
  if (changes.length && Object.keys(parseFile(text, path).value.hooks as JsonObject).length === 0)
    text = remove(text, [], "hooks");
  if (changes.length && emptied(text)) return { before, after: null, changes };
  return finish(before, text, changes);
}

/** `.mcp.json` with the `claudebench` server: added, replaced when it differs, else untouched. */
export function installMcp(before: string | null, opts: InitOptions, path = ".mcp.json"): FilePlan {
  let { text, value } = parseFile(before, path);
  if (value.mcpServers !== undefined && !isObject(value.mcpServers))
    throw new InitError(`${path}: "mcpServers" is not an object; fix it first, nothing was written`);
  const server = mcpServer(opts);
  const existing = isObject(value.mcpServers) ? value.mcpServers[MCP_NAME] : undefined;
  if (existing !== undefined && sameJson(existing, server)) return finish(before, text, []);
  if (value.mcpServers === undefined) text = append(text, [], {}, "mcpServers");
  if (existing === undefined) text = append(text, ["mcpServers"], server, MCP_NAME);
  else text = replace(text, ["mcpServers", MCP_NAME], server);
  return finish(before, text, [`${existing === undefined ? "added" : "updated"} MCP server ${MCP_NAME}`]);
}

/** `.mcp.json` without the `claudebench` server. */
export function uninstallMcp(before: string | null, path = ".mcp.json"): FilePlan {
  if (before === null) return { before, after: null, changes: [] };
  let { text, value } = parseFile(before, path);
  if (!isObject(value.mcpServers) || !(MCP_NAME in value.mcpServers)) return finish(before, text, []);
  text = remove(text, ["mcpServers"], MCP_NAME);
  if (Object.keys(parseFile(text, path).value.mcpServers as JsonObject).length === 0)
    text = remove(text, [], "mcpServers");
  const changes = [`removed MCP server ${MCP_NAME}`];
  if (emptied(text)) return { before, after: null, changes };
  return finish(before, text, changes);
}

// ------------------------------------------------------------------ unified diff

/** A unified diff (3 lines of context) of a file's old and new text; "" when equal. */
export function unifiedDiff(path: string, before: string | null, after: string | null): string {
  if (before === after) return "";
  const split = (t: string | null) => (t === null || t === "" ? [] : t.replace(/\n$/, "").split("\n"));
  const a = split(before);
  const b = split(after);
  // Longest common subsequence, from the end (files here are small).
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      (lcs[i] as number[])[j] =
        a[i] === b[j]
          ? ((lcs[i + 1] as number[])[j + 1] as number) + 1
          : Math.max((lcs[i + 1] as number[])[j] as number, (lcs[i] as number[])[j + 1] as number);
    }
  }
  type Line = { op: " " | "-" | "+"; text: string; ai: number; bi: number };
  const lines: Line[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      lines.push({ op: " ", text: a[i] as string, ai: i++, bi: j++ });
    } else if (
      i < a.length &&
      (j >= b.length || ((lcs[i + 1] as number[])[j] as number) >= ((lcs[i] as number[])[j + 1] as number))
    ) {
      lines.push({ op: "-", text: a[i] as string, ai: i++, bi: j });
    } else {
      lines.push({ op: "+", text: b[j] as string, ai: i, bi: j++ });
    }
  }
  const out = [
    `--- ${before === null ? "/dev/null" : `a/${path}`}`,
    `+++ ${after === null ? "/dev/null" : `b/${path}`}`,
  ];
  const changed = lines.map((l, k) => (l.op !== " " ? k : -1)).filter((k) => k >= 0);
  let k = 0;
  while (k < changed.length) {
    const from = Math.max(0, (changed[k] as number) - 3);
    let to = Math.min(lines.length, (changed[k] as number) + 4);
    while (k + 1 < changed.length && (changed[k + 1] as number) - 3 <= to) {
      k++;
      to = Math.min(lines.length, (changed[k] as number) + 4);
    }
    k++;
    const hunk = lines.slice(from, to);
    const first = hunk[0] as Line;
    const oldCount = hunk.filter((l) => l.op !== "+").length;
    const newCount = hunk.filter((l) => l.op !== "-").length;
    out.push(
      `@@ -${oldCount ? first.ai + 1 : first.ai},${oldCount} +${newCount ? first.bi + 1 : first.bi},${newCount} @@`,
      ...hunk.map((l) => `${l.op}${l.text}`),
    );
  }
  return `${out.join("\n")}\n`;
}
