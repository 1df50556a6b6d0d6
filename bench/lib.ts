/**
 * Helpers shared by the benchmark scripts (bench/*.ts): building dist, spawning server
 * children that die with us, reading CPU time from /proc, small statistics and aligned
 * tables. Benchmarks print figures; none of this asserts anything.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { request } from "node:http";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

export { freePort } from "../src/storage/embedded-redis.js";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
/** The shared reference tools (ref-min-server.js, jsonrpc-load.js): /work/shared/bench by default. */
export const SHARED_BENCH = process.env.SHARED_BENCH_DIR ?? join(ROOT, "..", "shared", "bench");

// ---------------------------------------------------------------------------- build

function newestFile(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    if (stat.isDirectory()) newest = Math.max(newest, newestFile(path));
    else newest = Math.max(newest, stat.mtimeMs);
  }
  return newest;
}

/** The server runs from dist (as `claudebench serve` does): build it when missing or older than src. */
export function ensureBuilt(): void {
  const cli = join(ROOT, "dist", "cli", "main.js");
  if (existsSync(cli) && statSync(cli).mtimeMs >= newestFile(join(ROOT, "src"))) return;
  console.log(existsSync(cli) ? "dist is older than src: building..." : "dist is missing: building...");
  const built = spawnSync("npm", ["run", "--silent", "build"], { cwd: ROOT, stdio: "inherit" });
  if (built.status !== 0 || !existsSync(cli)) {
    throw new Error(`"npm run build" failed, so dist/cli/main.js is missing or stale. Fix the build first.`);
  }
}

// ---------------------------------------------------------------------------- CPU time

function clockTicksPerSecond(): number {
  const out = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
  const ticks = Number(out.stdout?.trim());
  return Number.isInteger(ticks) && ticks > 0 ? ticks : 100;
}
export const CLK_TCK = clockTicksPerSecond();

/** utime + stime of a whole process (all its threads), in clock ticks; null without /proc. */
export function cpuTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after "(comm)": state is the first, utime the 12th, stime the 13th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

/** The pids of `pid`'s child processes (of a server on a shared Redis: its history store's process). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Busy time of the whole machine (all cores; all but idle and iowait), in clock ticks; null without /proc. */
export function machineBusyTicks(): number | null {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
    // cpu  user nice system idle iowait irq softirq steal ...
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const busy = [user, nice, system, irq, softirq, steal].reduce<number>((sum, v) => sum + (v ?? 0), 0);
    return Number.isFinite(busy) ? busy : null;
  } catch {
    return null;
  }
}

/** CPU seconds used over a phase, per watched process, and by the whole machine. */
export interface CpuUsage {
  /** Per pid given to `cpuMeter`, in seconds; null without /proc. */
  readonly seconds: (number | null)[];
  /** The whole machine (all cores), in seconds; null without /proc. */
  readonly machineSeconds: number | null;
  /** This process, in seconds. */
  readonly selfSeconds: number;
  readonly wallSeconds: number;
}

/** Starts measuring the CPU time of `pids` (and of the machine and this process); `stop()` reads it. */
export function cpuMeter(pids: readonly number[]): { stop(): CpuUsage } {
  const before = pids.map(cpuTicks);
  const machineBefore = machineBusyTicks();
  const selfBefore = process.cpuUsage();
  const started = performance.now();
  return {
    stop() {
      const wallSeconds = (performance.now() - started) / 1000;
      const self = process.cpuUsage(selfBefore);
      const machineAfter = machineBusyTicks();
      const seconds = pids.map((pid, i) => {
        const a = before[i];
        const b = cpuTicks(pid);
        return a === null || a === undefined || b === null ? null : (b - a) / CLK_TCK;
      });
      return {
        seconds,
        machineSeconds:
          machineBefore === null || machineAfter === null ? null : (machineAfter - machineBefore) / CLK_TCK,
        selfSeconds: (self.user + self.system) / 1e6,
        wallSeconds,
      };
    },
  };
}

/**
 * On a shared machine, waits (at most `maxWaitMs`) until the whole machine was busy for at
 * most `maxBusyPct` % of one core over a second. Returns that busy share (% of a core), or
 * null without /proc.
 */
export async function waitForQuiet(maxWaitMs = 60_000, maxBusyPct = 20): Promise<number | null> {
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    const before = machineBusyTicks();
    await new Promise((r) => setTimeout(r, 1000));
    const after = machineBusyTicks();
    if (before === null || after === null) return null;
    const busyPct = ((after - before) / CLK_TCK) * 100;
    if (busyPct <= maxBusyPct || Date.now() > deadline) return busyPct;
  }
}

// ---------------------------------------------------------------------------- processes

/**
 * Preloaded into each server child: stop when our end of its stdin closes, so that no
 * server outlives this process, however it ends (the embedded redis-server has its own
 * watchdog).
 */
export const EXIT_WITH_PARENT =
  'data:text/javascript,process.stdin.on("end",()=>process.kill(process.pid,"SIGTERM"));process.stdin.resume();';

/** Every child started by `startChild` and not yet stopped. */
export const children = new Set<ChildProcess>();

export interface Child {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** The last 4,000 characters it printed (stdout and stderr). */
  output(): string;
}

export interface StartChildOptions {
  env?: NodeJS.ProcessEnv;
  /** Resolves true once the child serves; polled every `pollMs` (100 ms). */
  ready: () => Promise<boolean>;
  pollMs?: number;
  timeoutMs?: number;
}

/** `node --import EXIT_WITH_PARENT ...args`, waiting until `ready()` says it serves. */
export async function startChild(name: string, args: string[], options: StartChildOptions): Promise<Child> {
  const child = spawn(process.execPath, ["--import", EXIT_WITH_PARENT, ...args], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "pipe"],
    env: options.env ?? process.env,
  });
  children.add(child);
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${name} exited during start-up (${child.exitCode ?? child.signalCode}):\n${output}`);
    }
    if (await options.ready()) break;
    if (Date.now() > deadline)
      throw new Error(`${name} did not answer within ${timeoutMs / 1000} s:\n${output}`);
    await new Promise((r) => setTimeout(r, options.pollMs ?? 100));
  }
  return { name, child, pid: child.pid as number, output: () => output.trim() };
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
  child.stdin?.destroy();
  children.delete(child);
}

/**
 * How a benchmark runs our server: `no-db` (persistence off) or `default` (the embedded history
 * store, PGlite in its own process, as a plain `claudebench serve` has it).
 */
export type ServeConfig = "no-db" | "default";

/** The `--config` flag of the benchmarks that run our server alone beside a reference. */
export const CONFIG_FLAG = {
  text: "default",
  hint: "default|no-db",
  help: "our server's configuration: default (with its history store, PGlite in its own process)\nor no-db (persistence off)",
} satisfies FlagSpec;

/** The `--config` value as a ServeConfig, or exit 2. */
export function serveConfig(script: string, value: string): ServeConfig {
  if (value === "default" || value === "no-db") return value;
  fail(script, `--config must be default or no-db, got ${value}`);
}

/**
 * `claudebench serve` arguments for a server on `port` using an existing Redis. On a shared
 * Redis, serve's own default is no database, so `default` asks for the embedded store (in
 * `storeDir`) as a server with its private Redis has it.
 */
export function serveArgs(
  port: number,
  redisUrl: string,
  keyPrefix: string,
  config: ServeConfig = "no-db",
  storeDir?: string,
): string[] {
  if (config === "default" && !storeDir)
    throw new Error("serveArgs: the default configuration needs a storeDir");
  return [
    join(ROOT, "bin", "claudebench.js"),
    "serve",
    "--port",
    String(port),
    "--redis-url",
    redisUrl,
    "--key-prefix",
    keyPrefix,
    ...(config === "no-db" ? ["--no-db"] : ["--db", "pglite", "--data-dir", storeDir as string]),
    "--log-level",
    "warn",
  ];
}

/**
 * Ready once /health says healthy and the database answers, when there is one (a server is
 * healthy while its embedded store is still starting; a benchmark waits for the store).
 */
export const healthyWithDatabase = (port: number) => async () => {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    const health = (await res.json()) as {
      status?: string;
      checks?: { database?: { ok: boolean; configured: boolean } };
    };
    const database = health.checks?.database;
    return health.status === "healthy" && (database?.ok === true || database?.configured === false);
  } catch {
    return false;
  }
};

/** One JSON-RPC call over a fresh connection: the parsed answer, or null when nothing (valid) answered. */
export function rpcOnce(port: number, method: string, params: unknown = {}): Promise<unknown> {
  const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method, params });
  return new Promise((resolve) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/rpc",
        method: "POST",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", () => resolve(null));
        res.on("end", () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString()));
          } catch {
            resolve(null);
          }
        });
      },
    );
    req.setTimeout(5000, () => req.destroy());
    req.on("error", () => resolve(null));
    req.end(body);
  });
}

/** Ready once /rpc answers any JSON-RPC message (a result or an error). */
export const answersJsonRpc = (port: number) => async () => {
  const answer = (await rpcOnce(port, "system.ping")) as { jsonrpc?: string } | null;
  return answer?.jsonrpc === "2.0";
};

/** Runs a node script to completion; resolves with its output (rejects with it when the script fails). */
export function runNode(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    children.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      children.delete(child);
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`node ${args.join(" ")} failed (${code ?? signal}):\n${stderr}${stdout}`));
    });
  });
}

/**
 * Preloaded into a load-generator child: prints its own CPU time (µs) on stderr as it exits,
 * so that the CPU the rest of the machine used can be told apart from the load generator's.
 */
export const REPORT_CPU_ON_EXIT =
  'data:text/javascript,process.on("exit",()=>{const u=process.cpuUsage();process.stderr.write("\\nCPU_USAGE_US "+(u.user+u.system)+"\\n")});';

/** The CPU time a child preloaded with REPORT_CPU_ON_EXIT reported, in seconds; null when absent. */
export function reportedCpuSeconds(stderr: string): number | null {
  const match = /CPU_USAGE_US (\d+)/.exec(stderr);
  return match ? Number(match[1]) / 1e6 : null;
}

/** Runs `cleanup` once on SIGINT/SIGTERM, then exits 130. */
export function onInterrupt(name: string, cleanup: () => Promise<void>): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      console.error(`\n${name}: ${signal}, cleaning up...`);
      void cleanup().finally(() => process.exit(130));
    });
  }
}

// ---------------------------------------------------------------------------- flags

/**
 * One command-line flag of a bench script: what it holds, its default and its line in the usage.
 * `int`: a positive integer; `count`: an integer ≥ 0; `ints`: positive integers separated by
 * commas (default as typed, e.g. "1,10,50"); `seconds`: a number ≥ 0; `text`: any text, `hint`
 * shows its form in the usage; `on`: a switch.
 */
export type FlagSpec = { help: string } & (
  | { int: number }
  | { count: number }
  | { ints: string }
  | { seconds: number }
  | { text: string | undefined; hint?: string }
  | { on: false }
);

type FlagValue<F> = F extends { int: number } | { count: number }
  ? number
  : F extends { ints: string }
    ? number[]
    : F extends { seconds: number }
      ? number
      : F extends { on: false }
        ? boolean
        : F extends { text: string }
          ? string
          : string | undefined;

/** What a flag shows after its name in the usage line: its default, or the form of its value. */
function usageValue(spec: FlagSpec): string {
  if ("on" in spec) return "";
  if ("text" in spec) return ` ${spec.hint ?? spec.text ?? "<text>"}`;
  if ("int" in spec) return ` ${spec.int}`;
  if ("count" in spec) return ` ${spec.count}`;
  return ` ${"ints" in spec ? spec.ints : spec.seconds}`;
}

function usage(script: string, specs: Record<string, FlagSpec>): string {
  const names = Object.keys(specs);
  const width = Math.max(...names.map((name) => name.length)) + 2;
  const lines = names.map((name) => {
    const [first, ...more] = (specs[name] as FlagSpec).help.split("\n");
    const pad = " ".repeat(width + 4);
    return [`  --${name.padEnd(width)}${first}`, ...more.map((line) => pad + line)].join("\n");
  });
  const synopsis = names.map((name) => `[--${name}${usageValue(specs[name] as FlagSpec)}]`).join(" ");
  return [`usage: npm run ${script} -- ${synopsis}`, ...lines].join("\n");
}

function fail(script: string, message: string): never {
  console.error(`${script}: ${message} (--help shows the flags)`);
  process.exit(2);
}

/** An integer flag of at least `min` (0 or 1), or exit 2 with a clear message. */
function integer(script: string, name: string, raw: string | undefined, min: 0 | 1): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min)
    fail(script, `--${name} must be ${min === 1 ? "a positive integer" : "an integer ≥ 0"}, got ${raw}`);
  return n;
}

/**
 * The flags of the bench script run as `npm run <script>`: parsed (node:util parseArgs) and
 * converted by their specs. `--help` prints the usage made from the specs and exits 0; an
 * unknown flag or a value of the wrong kind exits 2 with one line saying which.
 */
export function benchFlags<S extends Record<string, FlagSpec>>(
  script: string,
  specs: S,
): { [K in keyof S]: FlagValue<S[K]> } {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const [name, spec] of Object.entries(specs))
    options[name] = { type: "on" in spec ? "boolean" : "string" };
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ options }));
  } catch (err) {
    fail(script, (err as Error).message);
  }
  if (values.help) {
    console.log(usage(script, specs));
    process.exit(0);
  }
  const flags: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const raw = values[name];
    if ("on" in spec) flags[name] = raw === true;
    else if ("text" in spec) flags[name] = raw ?? spec.text;
    else if ("int" in spec)
      flags[name] = integer(script, name, (raw as string | undefined) ?? String(spec.int), 1);
    else if ("count" in spec)
      flags[name] = integer(script, name, (raw as string | undefined) ?? String(spec.count), 0);
    else if ("ints" in spec)
      flags[name] = ((raw as string | undefined) ?? spec.ints)
        .split(",")
        .map((part) => integer(script, name, part.trim(), 1));
    else {
      const seconds = raw === undefined ? spec.seconds : Number(raw);
      if (!Number.isFinite(seconds) || seconds < 0)
        fail(script, `--${name} must be a number ≥ 0, got ${raw}`);
      flags[name] = seconds;
    }
  }
  return flags as { [K in keyof S]: FlagValue<S[K]> };
}

// ---------------------------------------------------------------------------- statistics and tables

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

export const medianOrNull = (values: (number | null)[]): number | null =>
  values.length === 0 || values.some((v) => v === null) ? null : median(values as number[]);

/** The p-th percentile (nearest rank) of already sorted values. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

export const fmt = (v: number | null | undefined, digits: number) =>
  v === null || v === undefined || Number.isNaN(v)
    ? "n/a"
    : v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** Rows of cells → aligned text: the first column left-aligned, the others right-aligned. */
export function table(rows: string[][]): string {
  const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows
    .map((r) =>
      r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join("  "),
    )
    .join("\n");
}

/** "met" / "NOT met" beside a target. */
export const verdict = (ok: boolean) => (ok ? "met" : "NOT met");

/** One line about the machine, to print at the top of a run. */
export function machineLine(script: string): string {
  const cpuModel = cpus()[0]?.model ?? "unknown cpu";
  return (
    `${script}: ${cpus().length} cores (${cpuModel}), node ${process.version}, ` +
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`
  );
}

/** Parses `INFO <section>` text into its key → value pairs. */
export function parseInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\r\n")) {
    if (!line || line.startsWith("#")) continue;
    const at = line.indexOf(":");
    if (at > 0) out.set(line.slice(0, at), line.slice(at + 1));
  }
  return out;
}

/** `INFO commandstats` → command → { calls, usec }. */
export function parseCommandStats(text: string): Map<string, { calls: number; usec: number }> {
  const out = new Map<string, { calls: number; usec: number }>();
  for (const [key, value] of parseInfo(text)) {
    if (!key.startsWith("cmdstat_")) continue;
    const fields = new Map(value.split(",").map((kv) => kv.split("=") as [string, string]));
    out.set(key.slice("cmdstat_".length), {
      calls: Number(fields.get("calls") ?? 0),
      usec: Number(fields.get("usec") ?? 0),
    });
  }
  return out;
}
