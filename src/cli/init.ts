import { execFile } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { loadClientConfig } from "../client-config.js";
import { action } from "./output.js";
import { unifiedDiff } from "./settings-diff.js";
import {
  type FilePlan,
  hookHandler,
  InitError,
  type InitOptions,
  installHooks,
  installMcp,
  shellWord,
  TOKEN_ENV,
  uninstallHooks,
  uninstallMcp,
} from "./settings-install.js";

/**
 * `claudebench init`: sets a project up for Claude Code — ClaudeBench's hooks in
 * `.claude/settings.json` (or `.claude/settings.local.json`) and its MCP server in `.mcp.json`,
 * merged into what is there (see settings-install.ts), or taken out with --uninstall.
 */

interface InitFlags {
  http?: boolean;
  command?: boolean;
  local?: boolean;
  dryRun?: boolean;
  uninstall?: boolean;
  url?: string;
  dir?: string;
}

const read = (path: string): string | null => (existsSync(path) ? readFileSync(path, "utf8") : null);

function write(project: string, name: string, text: string | null): void {
  const path = join(project, name);
  if (text === null) {
    rmSync(path, { force: true });
    if (dirname(path) !== project) {
      try {
        rmdirSync(dirname(path)); // .claude/, when that file was all it held
      } catch {
        // not empty: keep it
      }
    }
    return;
  }
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.claudebench-${process.pid}.tmp`;
  writeFileSync(temp, text);
  renameSync(temp, path);
}

/** What the project's policy file says about an unreachable server (read as plain JSON). */
function onServerUnavailable(project: string): string | null {
  try {
    const policy = JSON.parse(readFileSync(join(project, ".claudebench", "policy.json"), "utf8")) as {
      onServerUnavailable?: unknown;
    };
    return typeof policy?.onServerUnavailable === "string" ? policy.onServerUnavailable : null;
  } catch {
    return null;
  }
}

/**
 * The shell words that run this very `claudebench`: this node and this package's bin, by
 * absolute path, so that the hook runs wherever Claude Code starts it (no PATH, no npx).
 */
function thisCli(): string {
  const bin = fileURLToPath(new URL("../../bin/claudebench.js", import.meta.url));
  return `${shellWord(process.execPath)} ${shellWord(bin)}`;
}

/** Runs the hook command as Claude Code will (through the shell), with --help; throws when it fails. */
function checkHookCommand(command: string): Promise<void> {
  return new Promise((done, fail) => {
    execFile("/bin/sh", ["-c", `${command} --help`], { timeout: 15_000 }, (err, stdout, stderr) => {
      if (!err && stdout.startsWith("usage: claudebench hook")) return done();
      const why = err ? (err.killed ? "timed out" : `exit ${err.code}`) : "unexpected output";
      const detail = (stderr || stdout).trim().split("\n")[0] ?? "";
      fail(
        new InitError(
          `the hook command does not run (${why}${detail ? `: ${detail}` : ""}): ${command}; nothing was written`,
        ),
      );
    });
  });
}

/** What the server at `url` answers on /health: null when healthy or degraded, else what is wrong. */
async function serverProblem(url: string): Promise<string | null> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(3000) });
    const body = (await res.json().catch(() => null)) as { status?: unknown } | null;
    if (typeof body?.status !== "string")
      return `${url}/health answers HTTP ${res.status}, not a ClaudeBench server`;
    return res.ok ? null : `the server at ${url} is ${body.status} (HTTP ${res.status})`;
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    return `no ClaudeBench server answers ${url}/health (${cause})`;
  }
}

/** ["added A", "added B", "updated C"] → "added A, B; updated C". */
function summarize(changes: readonly string[]): string {
  const byVerb = new Map<string, string[]>();
  for (const change of changes) {
    const [verb = "", ...rest] = change.split(" ");
    byVerb.set(verb, [...(byVerb.get(verb) ?? []), rest.join(" ")]);
  }
  return [...byVerb].map(([verb, what]) => `${verb} ${what.join(", ")}`).join("; ");
}

async function initCommand(flags: InitFlags): Promise<void> {
  if (flags.http && flags.command) throw new InitError("--http and --command exclude each other");
  const project = resolve(flags.dir ?? ".");
  if (!existsSync(project) || !statSync(project).isDirectory())
    throw new InitError(`--dir ${project}: not a directory`);
  const client = loadClientConfig({ url: flags.url });
  const options: InitOptions = {
    kind: flags.command ? "command" : "http",
    url: client.urls[0].replace(/\/+$/, ""), // the settings name one server: the first of a list
    token: client.token !== undefined,
    cli: thisCli(),
  };
  const settingsName = join(".claude", flags.local ? "settings.local.json" : "settings.json");
  const files: { name: string; plan: FilePlan }[] = [];
  const settingsText = read(join(project, settingsName));
  const mcpText = read(join(project, ".mcp.json"));
  // Every plan first: a file that cannot be merged stops everything before anything is written.
  if (flags.uninstall) {
    files.push({ name: settingsName, plan: uninstallHooks(settingsText, settingsName) });
    files.push({ name: ".mcp.json", plan: uninstallMcp(mcpText, ".mcp.json") });
  } else {
    files.push({ name: settingsName, plan: installHooks(settingsText, options, settingsName) });
    files.push({ name: ".mcp.json", plan: installMcp(mcpText, options, ".mcp.json") });
  }

  const hookCommand = options.kind === "command" ? String(hookHandler(options).command) : null;
  if (hookCommand && !flags.uninstall) await checkHookCommand(hookCommand);

  const header = flags.uninstall
    ? `claudebench init --uninstall in ${project}`
    : `claudebench init in ${project}: ${options.kind} hooks → ${
        hookCommand ?? `${options.url}/hook/claude`
      }, MCP server → ${options.url}/mcp`;
  console.log(`${header}${flags.dryRun ? " (dry run)" : ""}`);
  for (const { name, plan } of files) {
    if (plan.after === plan.before) {
      console.log(
        `  ${name}: no change${flags.uninstall ? " (no ClaudeBench entries)" : " (already set up)"}`,
      );
      continue;
    }
    const what = plan.before === null ? "created" : plan.after === null ? "deleted" : "updated";
    console.log(`  ${name}: ${flags.dryRun ? `would be ${what}` : what}: ${summarize(plan.changes)}`);
    if (flags.dryRun) process.stdout.write(unifiedDiff(name, plan.before, plan.after));
    else write(project, name, plan.after);
  }
  if (flags.dryRun) console.log("dry run: nothing was written");
  if (flags.uninstall) return;

  const mode = onServerUnavailable(project);
  const problem = await serverProblem(options.url);
  if (problem) {
    const meanwhile =
      mode === "block" && hookCommand
        ? "block tool calls and prompts"
        : "check nothing (Claude Code proceeds)";
    console.error(
      `warning: ${problem}: until a server answers there, the hooks ${meanwhile}. ` +
        "Start one with `claudebench serve`, or run init again with --url <its URL>.",
    );
  } else {
    console.log(`server: ${options.url} answers /health`);
  }
  if (mode === "block") {
    console.log(
      "onServerUnavailable: block (.claudebench/policy.json): if the server is down, tool calls and prompts are blocked" +
        (options.kind === "http"
          ? " — but only with --command: Claude Code lets HTTP hooks fail open, so run init --command to fail closed"
          : " (claudebench hook exits 2)"),
    );
  } else {
    console.log(
      "onServerUnavailable: allow: if the server is down, Claude Code proceeds; set onServerUnavailable: block in .claudebench/policy.json to fail closed" +
        (options.kind === "http" ? " (with init --command: HTTP hooks always fail open)" : ""),
    );
  }
  if (options.token) {
    console.log(
      `The entries send the token as $${TOKEN_ENV} (the token itself is not written): export ${TOKEN_ENV} where Claude Code runs.`,
    );
  }
  if (hookCommand && !flags.local) {
    console.log(
      "The hook command names this machine's node and ClaudeBench: use --local to keep it out of the shared .claude/settings.json, and run init again after moving either.",
    );
  }
  if (files.some((f) => f.plan.after !== f.plan.before) && !flags.dryRun) {
    console.log(
      "Restart Claude Code (or review them in /hooks) to load the hooks; it asks once to approve the MCP server.",
    );
  }
}

export function registerInitCommand(program: Command): void {
  program
    .command("init")
    .description(
      "set a project up for Claude Code: ClaudeBench's hooks in .claude/settings.json, its MCP server in .mcp.json",
    )
    .option("--http", "HTTP hooks: Claude Code POSTs to <url>/hook/claude (the default)")
    .option(
      "--command",
      "command hooks: Claude Code runs `<node> <this claudebench> hook` by absolute path (can fail closed)",
    )
    .option("--local", "write .claude/settings.local.json (not committed) instead of .claude/settings.json")
    .option("--dry-run", "print the changes as a diff and write nothing")
    .option("--uninstall", "remove ClaudeBench's hooks and MCP server (and nothing else)")
    .option("--url <url>", "server URL (env CLAUDEBENCH_URL, default http://127.0.0.1:3000)")
    .option("--dir <project>", "the project directory (default: the current directory)")
    .action(
      action(async (flags: InitFlags) => {
        try {
          await initCommand(flags);
        } catch (err) {
          if (!(err instanceof InitError)) throw err;
          console.error(`claudebench init: ${err.message}`);
          process.exit(1);
        }
      }),
    );
}
