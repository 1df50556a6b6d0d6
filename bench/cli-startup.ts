/**
 * How long the `claudebench` command takes to start, per subcommand, as a user (or Claude
 * Code, for `hook`) pays it: one process from spawn to exit.
 *
 *   npm run bench:cli [-- --n 30 --url http://127.0.0.1:3000 --bin <other build>/bin/claudebench.js]
 *
 * Against a running server (`--url`) or, by default, one started here from dist
 * (`claudebench serve --no-db` on a private redis-server), holding one task to read. Rows, each
 * spawned --n times, the rows in turn so that a busy moment of the machine spreads over all:
 *   node -e 0            the floor: starting node and exiting
 *   --version            the CLI's own start-up and nothing else
 *   task get <id>        start-up plus one call to the server
 *   hook → server        the command bridge Claude Code runs for every tool call
 * Wall time is the median over --n runs (target < 150 ms for --version and task get); CPU
 * time is what the process itself reported when it exited (user + system, all threads);
 * "over node" is the median, run by run, of the difference to `node -e 0` of the same round:
 * what the CLI adds to Node's own start-up, which on a slow or busy machine is most of the total.
 * A benchmark, not a test: it prints figures and asserts nothing.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  answersJsonRpc,
  benchFlags,
  type Child,
  ensureBuilt,
  fmt,
  freePort,
  machineLine,
  median,
  onInterrupt,
  REPORT_CPU_ON_EXIT,
  ROOT,
  reportedCpuSeconds,
  rpcOnce,
  startChild,
  stopChild,
  table,
  verdict,
} from "./lib.js";

const SCRIPT = "cli-startup";
const TARGET_MS = 150;
const BIN = join(ROOT, "bin", "claudebench.js");

const flags = benchFlags("bench:cli", {
  n: { int: 30, help: "runs per row" },
  url: {
    text: undefined,
    hint: "<running server>",
    help: "read a task from this server instead of starting one (it must hold the task --task)",
  },
  task: { text: undefined, hint: "<id>", help: "with --url: the task to read (default: one created there)" },
  bin: {
    text: BIN,
    hint: "<path>",
    help: "the claudebench entry to time, e.g. an older build's for before/after (the server is this one's)",
  },
});

interface Row {
  name: string;
  args: string[];
  input?: Buffer;
  /** Whether a run's exit code and output are the expected ones (else the bench stops: a broken row times nothing). */
  ok: (status: number | null, stdout: string) => boolean;
  wallMs: number[];
  cpuMs: number[];
}

/** One run: spawn, wait for the exit, and keep its wall and CPU time. */
function run(row: Row): void {
  const started = performance.now();
  const out = spawnSync(process.execPath, ["--import", REPORT_CPU_ON_EXIT, ...row.args], {
    cwd: ROOT,
    input: row.input,
    encoding: "utf8",
  });
  const wall = performance.now() - started;
  if (!row.ok(out.status, out.stdout))
    throw new Error(
      `${row.name}: exit ${out.status}, stdout ${out.stdout.slice(0, 300)}, stderr ${out.stderr}`,
    );
  row.wallMs.push(wall);
  row.cpuMs.push((reportedCpuSeconds(out.stderr) ?? Number.NaN) * 1000);
}

let dataDir: string | undefined;
let server: Child | undefined;
const cleanup = async () => {
  if (server) await stopChild(server.child);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
};
onInterrupt(SCRIPT, cleanup);

try {
  ensureBuilt();
  let url = flags.url;
  if (!url) {
    const port = await freePort();
    dataDir = mkdtempSync(join(tmpdir(), "cb-bench-cli-"));
    const args = [
      BIN,
      "serve",
      "--port",
      String(port),
      "--no-db",
      "--data-dir",
      dataDir,
      "--log-level",
      "warn",
    ];
    server = await startChild("server", args, { ready: answersJsonRpc(port) });
    url = `http://127.0.0.1:${port}`;
  }
  const port = Number(new URL(url).port || 80);
  const created = flags.task
    ? null
    : ((await rpcOnce(port, "task.create", { text: "read by bench:cli" })) as {
        result?: { id: string };
      } | null);
  const taskId = flags.task ?? created?.result?.id;
  if (!taskId) throw new Error(`could not create a task on ${url}: ${JSON.stringify(created)}`);

  const hookPayload = readFileSync(
    join(ROOT, "test", "fixtures", "claude-hooks", "pre-tool-use.bash-safe.json"),
  );
  const row = (name: string, args: string[], ok: Row["ok"], input?: Buffer): Row => ({
    name,
    args,
    ok,
    wallMs: [],
    cpuMs: [],
    ...(input ? { input } : {}),
  });
  const rows = [
    row("node -e 0", ["-e", "0"], (status) => status === 0),
    row(
      "--version",
      [flags.bin, "--version"],
      (status, stdout) => status === 0 && /^\d+\.\d+\.\d+/.test(stdout),
    ),
    row(
      "task get <id>",
      [flags.bin, "task", "get", taskId, "--url", url],
      (s, out) => s === 0 && out.includes(taskId),
    ),
    row("hook → server", [flags.bin, "hook", "--url", url], (status) => status === 0, hookPayload),
  ];
  for (const r of rows) run(r); // a warm-up each: the file cache, the server's first answer
  for (const r of rows) r.wallMs.length = r.cpuMs.length = 0;
  for (let i = 0; i < flags.n; i++) for (const r of rows) run(r);

  console.log(machineLine(SCRIPT));
  console.log(
    `${flags.n} runs per row, in turn; ${flags.bin}; server ${url}${server ? " (started here, --no-db)" : ""}\n`,
  );
  const targeted = new Set(["--version", "task get <id>"]);
  const floor = rows[0] as Row;
  // Over node's own start-up, run by run (the same round): what the CLI adds, steadier than
  // the totals on a busy machine.
  const over = (r: Row, of: "wallMs" | "cpuMs") => median(r[of].map((v, i) => v - (floor[of][i] as number)));
  console.log(
    table([
      ["", "wall median ms", "wall min ms", "cpu median ms", "over node: wall", "cpu", `< ${TARGET_MS} ms`],
      ...rows.map((r) => [
        r.name,
        fmt(median(r.wallMs), 1),
        fmt(Math.min(...r.wallMs), 1),
        fmt(median(r.cpuMs), 1),
        r === floor ? "" : fmt(over(r, "wallMs"), 1),
        r === floor ? "" : fmt(over(r, "cpuMs"), 1),
        targeted.has(r.name) ? verdict(median(r.wallMs) < TARGET_MS) : "",
      ]),
    ]),
  );
} finally {
  await cleanup();
}
