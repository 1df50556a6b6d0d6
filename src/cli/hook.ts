import { readFileSync } from "node:fs";
import { request as httpRequest, type IncomingMessage, type RequestOptions } from "node:http";
import { join } from "node:path";

/**
 * `claudebench hook`: the command bridge Claude Code runs as a `"type": "command"` hook.
 * Claude Code's event JSON comes on stdin and is POSTed to `<url>/hook/claude`; the server's
 * answer goes to stdout (exit 0), except a block — PreToolUse `permissionDecision: "deny"` or a
 * top-level `decision: "block"` — which becomes Claude Code's blocking exit code 2 with the
 * reason on stderr.
 *
 * When the server cannot be reached (refused, timed out) or answers non-2xx, the setting
 * `onServerUnavailable` decides: `allow` (default) exits 0 without output, so Claude Code
 * proceeds; `block` fails closed with exit 2 for the events where exit 2 prevents something
 * (PreToolUse, PermissionRequest, UserPromptSubmit) and warns the user at SessionStart. It never
 * blocks Stop/SubagentStop (exit 2 there keeps Claude working, in a loop while the server is
 * down) nor events that only report (PostToolUse, Notification, SessionEnd, ...).
 *
 * Claude Code runs this for every tool call, so it must start fast: bin/claudebench.js loads
 * this module directly, without the full CLI, and it imports node built-ins only (no commander,
 * zod, ioredis or MCP SDK). The environment is handed in by the caller (the process entry).
 */

type OnUnavailable = "allow" | "block";

interface HookSettings {
  url: string;
  token?: string;
  timeoutMs: number;
  /** From --on-unavailable or CLAUDEBENCH_ON_UNAVAILABLE; else the project's policy file decides. */
  onUnavailable?: { mode: OnUnavailable; source: string };
}

interface HookResult {
  code: number;
  stdout: string;
  stderr: string;
}

type HookEnv = Readonly<Record<string, string | undefined>>;

export const DEFAULT_URL = "http://127.0.0.1:3000";
const DEFAULT_TIMEOUT_MS = 3000;

/** Events whose exit code 2 prevents the action (the tool call, the prompt): fail closed there. */
const GATED_EVENTS = new Set(["PreToolUse", "PermissionRequest", "UserPromptSubmit"]);

const USAGE = `usage: claudebench hook [--url <url>] [--token <token>] [--timeout-ms <ms>] [--on-unavailable allow|block]

The command hook Claude Code runs (settings: {"type": "command", "command": "<node> <claudebench> hook"},
with absolute paths, as \`claudebench init --command\` writes it).
Reads Claude Code's hook JSON on stdin, asks the ClaudeBench server (POST <url>/hook/claude) and
answers in Claude Code's format: JSON on stdout and exit 0, or exit 2 with the reason on stderr
when the action is blocked.

  --url <url>              server URL (env CLAUDEBENCH_URL, its first if a list; default ${DEFAULT_URL})
  --token <token>          bearer token (env CLAUDEBENCH_TOKEN)
  --timeout-ms <ms>        how long to wait for the server (default ${DEFAULT_TIMEOUT_MS})
  --on-unavailable <mode>  when the server cannot be reached: allow (proceed, the default) or block
                           (exit 2); env CLAUDEBENCH_ON_UNAVAILABLE, else onServerUnavailable in the
                           project's .claudebench/policy.json
`;

class UsageError extends Error {
  override name = "UsageError";
}

const blank = (v: string | undefined) => (v === undefined || v === "" ? undefined : v);

function parseMode(value: string, what: string): OnUnavailable {
  if (value === "allow" || value === "block") return value;
  throw new UsageError(`${what} = ${JSON.stringify(value)}: use allow or block`);
}

/** Flags, else environment, else defaults. Throws UsageError on a bad flag or value. */
function hookSettings(args: readonly string[], env: HookEnv): HookSettings | "help" {
  const flags: Record<string, string> = {};
  const names = new Set(["url", "token", "timeout-ms", "on-unavailable"]);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "-h" || arg === "--help") return "help";
    const match = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    if (!match || !names.has(match[1] as string)) throw new UsageError(`unknown argument ${arg}`);
    const value = match[2] ?? args[++i];
    if (value === undefined) throw new UsageError(`--${match[1]} needs a value`);
    flags[match[1] as string] = value;
  }
  // CLAUDEBENCH_URL may list several servers (for workers, docs/tasks.md): one hook call asks the first
  const first = (flags.url ?? blank(env.CLAUDEBENCH_URL) ?? DEFAULT_URL).split(",")[0] as string;
  const url = first.trim().replace(/\/+$/, "");
  if (!/^https?:\/\/[^/]+/.test(url)) {
    throw new UsageError(`url ${JSON.stringify(url)}: must start with http:// or https://`);
  }
  const timeoutMs = Number(flags["timeout-ms"] ?? DEFAULT_TIMEOUT_MS);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) {
    throw new UsageError(`--timeout-ms ${flags["timeout-ms"]}: a whole number of milliseconds, 1..600000`);
  }
  const settings: HookSettings = { url, timeoutMs };
  const token = flags.token ?? blank(env.CLAUDEBENCH_TOKEN);
  if (token) settings.token = token;
  if (flags["on-unavailable"] !== undefined) {
    settings.onUnavailable = {
      mode: parseMode(flags["on-unavailable"], "--on-unavailable"),
      source: "--on-unavailable",
    };
  } else if (blank(env.CLAUDEBENCH_ON_UNAVAILABLE)) {
    settings.onUnavailable = {
      mode: parseMode(env.CLAUDEBENCH_ON_UNAVAILABLE as string, "CLAUDEBENCH_ON_UNAVAILABLE"),
      source: "CLAUDEBENCH_ON_UNAVAILABLE",
    };
  }
  return settings;
}

/**
 * The project's `onServerUnavailable` (`<cwd>/.claudebench/policy.json`, the file the server
 * reads for that session), read directly: no schema library on this path. A missing file or
 * field means allow; an unreadable one too, with a warning.
 */
function projectOnUnavailable(cwd: string): { mode: OnUnavailable; source: string; warning?: string } {
  const path = join(cwd, ".claudebench", "policy.json");
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return { mode: "allow", source: "default" };
  }
  try {
    const value = (JSON.parse(text) as { onServerUnavailable?: unknown } | null)?.onServerUnavailable;
    if (value === undefined) return { mode: "allow", source: "default" };
    if (value === "allow" || value === "block") return { mode: value, source: path };
    return {
      mode: "allow",
      source: "default",
      warning: `${path}: onServerUnavailable ${JSON.stringify(value)} is not allow or block; allowing`,
    };
  } catch (err) {
    return {
      mode: "allow",
      source: "default",
      warning: `${path}: not valid JSON (${(err as Error).message}); allowing`,
    };
  }
}

interface Answer {
  status: number;
  body: string;
}

/** One POST, bounded by `timeoutMs` from start to the last byte; no keep-alive (one call per process). */
async function post(body: string, settings: HookSettings): Promise<Answer> {
  const target = new URL(`${settings.url}/hook/claude`);
  const send = target.protocol === "https:" ? (await import("node:https")).request : httpRequest;
  const options: RequestOptions = {
    method: "POST",
    agent: false,
    headers: {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      ...(settings.token ? { authorization: `Bearer ${settings.token}` } : {}),
    },
  };
  return new Promise<Answer>((resolve, reject) => {
    const req = send(target, options, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") });
      });
      res.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`no answer within ${settings.timeoutMs} ms`));
    }, settings.timeoutMs);
    req.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(body);
  }).catch((err: NodeJS.ErrnoException) => {
    // "connect ECONNREFUSED 127.0.0.1:3000", "no answer within 3000 ms", ...
    throw new Error(
      err.code && !err.message.includes(err.code) ? `${err.code}: ${err.message}` : err.message,
    );
  });
}

const errorText = (body: string): string => {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: string; message?: string } };
    if (parsed?.error?.message) return `${parsed.error.code ?? "error"}: ${parsed.error.message}`;
  } catch {
    // not JSON: the raw text below
  }
  return body.slice(0, 200);
};

/**
 * What to do when the server could not decide: the onServerUnavailable setting. `reached`: it
 * answered, but not with a decision (non-2xx, not JSON) — a token or server problem, not a
 * server to start.
 */
function unavailable(
  problem: string,
  reached: boolean,
  event: string,
  cwd: string,
  settings: HookSettings,
): HookResult {
  const project = settings.onUnavailable ? null : projectOnUnavailable(cwd);
  const { mode, source } = settings.onUnavailable ?? (project as { mode: OnUnavailable; source: string });
  const warning = project?.warning ? `claudebench hook: ${project.warning}\n` : "";
  if (mode === "allow" || !(GATED_EVENTS.has(event) || event === "SessionStart")) {
    return { code: 0, stdout: "", stderr: warning };
  }
  const what = event === "PreToolUse" ? "tool call" : event === "UserPromptSubmit" ? "prompt" : "action";
  const consequence =
    event === "SessionStart"
      ? "Tool calls and prompts will be blocked until it answers."
      : `This ${what} is blocked.`;
  const fix = reached
    ? "Check the server's log and the token (--token / CLAUDEBENCH_TOKEN)"
    : "Start the server with `npx claudebench serve` (or set CLAUDEBENCH_URL to where it runs)";
  return {
    code: 2,
    stdout: "",
    stderr:
      `${warning}ClaudeBench server ${reached ? `at ${settings.url} could not decide` : `unreachable at ${settings.url}`} ` +
      `(${problem}) and onServerUnavailable is "block" (${source}). ${consequence} ${fix}, ` +
      `or set onServerUnavailable to "allow" in .claudebench/policy.json to proceed without it.\n`,
  };
}

/** Turns the server's answer into Claude Code's: exit 2 + stderr for a block, JSON on stdout otherwise. */
function toClaudeCode(answer: Record<string, unknown>): HookResult {
  const specific = answer.hookSpecificOutput as Record<string, unknown> | undefined;
  if (specific && specific.permissionDecision === "deny") {
    const reason =
      typeof specific.permissionDecisionReason === "string" ? specific.permissionDecisionReason : "";
    return { code: 2, stdout: "", stderr: `${reason || "Blocked by the ClaudeBench policy."}\n` };
  }
  if (answer.decision === "block") {
    const reason = typeof answer.reason === "string" ? answer.reason : "";
    return { code: 2, stdout: "", stderr: `${reason || "Blocked by ClaudeBench."}\n` };
  }
  return { code: 0, stdout: `${JSON.stringify(answer)}\n`, stderr: "" };
}

/** The bridge itself, for one event (`input` is stdin's text). */
async function runHook(settings: HookSettings, input: string, fallbackCwd: string): Promise<HookResult> {
  let event: Record<string, unknown>;
  try {
    event = JSON.parse(input) as Record<string, unknown>;
    if (!event || typeof event !== "object" || Array.isArray(event)) throw new Error("not a JSON object");
  } catch (err) {
    return {
      code: 1,
      stdout: "",
      stderr: `claudebench hook: stdin is not Claude Code's hook JSON (${(err as Error).message})\n`,
    };
  }
  const name = typeof event.hook_event_name === "string" ? event.hook_event_name : "";
  const cwd = typeof event.cwd === "string" && event.cwd.startsWith("/") ? event.cwd : fallbackCwd;
  let answer: Answer;
  try {
    answer = await post(input, settings);
  } catch (err) {
    return unavailable((err as Error).message, false, name, cwd, settings);
  }
  if (answer.status < 200 || answer.status > 299) {
    return unavailable(`HTTP ${answer.status} ${errorText(answer.body)}`, true, name, cwd, settings);
  }
  let parsed: unknown;
  try {
    parsed = answer.body.trim() === "" ? {} : JSON.parse(answer.body);
  } catch {
    parsed = null;
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    return unavailable("its answer is not a JSON object", true, name, cwd, settings);
  }
  return toClaudeCode(parsed as Record<string, unknown>);
}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on("data", (c: Buffer) => chunks.push(c));
    process.stdin.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    process.stdin.on("error", reject);
  });
}

/** The process entry: arguments after `hook`, and the environment. Returns the exit code. */
export async function main(args: readonly string[], env: HookEnv): Promise<number> {
  let settings: HookSettings | "help";
  try {
    settings = hookSettings(args, env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`claudebench hook: ${err.message}\n\n${USAGE}`);
    return 1;
  }
  if (settings === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  if (process.stdin.isTTY) {
    process.stderr.write(`claudebench hook: expects Claude Code's hook JSON on stdin\n\n${USAGE}`);
    return 1;
  }
  const result = await runHook(settings, await readStdin(), process.cwd());
  if (result.stdout) process.stdout.write(result.stdout);
  if (result.stderr) process.stderr.write(result.stderr);
  return result.code;
}
