import { append, isObject, type Json, type JsonObject, remove, replace, sameJson } from "./json-text-edit.js";

/**
 * `claudebench init`, the pure part: ClaudeBench's hook entries merged into Claude Code's
 * `.claude/settings.json` and its MCP server into `.mcp.json`, and taken out again.
 *
 * The files belong to the user: everything we do not own stays as it was, byte for byte — the
 * JSON is edited in place (json-text-edit.ts: insert, replace or delete one member at a time,
 * indented like its neighbours), never parsed and printed again. Our hook handlers are recognised by what they
 * call (a URL ending in `/hook/claude`, a command running `claudebench hook`), so running init
 * twice changes nothing, switching between --http and --command replaces ours, and --uninstall
 * removes only ours (and the containers that emptied because of it).
 */

type HookKind = "http" | "command";

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
const MCP_NAME = "claudebench";
/** Seconds Claude Code waits for one hook (its default is 600). */
const HOOK_TIMEOUT_S = 10;

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
function mcpServer(opts: InitOptions): JsonObject {
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
