/**
 * Latency of the command bridge, end to end, as Claude Code sees it: `claudebench hook` spawned
 * with a PreToolUse payload on stdin, until it exits with its answer (a Bash `npm test`, which
 * the policy allows). Against a running server (`--url`) or, by default, one started here from
 * dist (`claudebench serve` on a private redis-server, in its default configuration with the
 * history store, which records each decision; `--config no-db` without).
 *
 *   npm run bench:hooks [-- --n 50 --url http://127.0.0.1:3000 --npx]
 *
 * Rows (each spawned --n times in turn, one at a time; wall time per process):
 *   node -e 0                 the floor: starting node and exiting
 *   hook, server down         the bridge alone (connection refused, onServerUnavailable allow)
 *   hook → server             the real thing: start, POST /hook/claude, print the answer
 *   full CLI --version        the CLI's entry instead (commander, main.ts): what the bridge would cost through it
 *   npx claudebench hook      with --npx: the command `init --command` writes (npx's own start-up included)
 *   POST /hook/claude         the server's share: the same request from this process, no spawn
 * A benchmark, not a test: it prints figures and asserts nothing.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { benchFlags, CONFIG_FLAG, healthyWithDatabase, ROOT, serveConfig } from "./lib.js";

const BIN = join(ROOT, "bin", "claudebench.js");

const flags = benchFlags("bench:hooks", {
  n: { int: 50, help: "hook calls timed per way of calling" },
  url: {
    text: undefined,
    hint: "<running server>",
    help: "time against this server instead of starting one",
  },
  npx: { on: false, help: "time `npx claudebench hook` too" },
  config: CONFIG_FLAG,
});
const CONFIG = serveConfig("bench:hooks", flags.config);
const N = flags.n;

const payload = readFileSync(join(ROOT, "test", "fixtures", "claude-hooks", "pre-tool-use.bash-safe.json"));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject()));
    });
  });
}

/** One process, stdin = `input`; resolves with its wall time in ms, rejects on an unexpected exit or stdout. */
function timed(
  command: string,
  args: string[],
  input: Buffer | null,
  expect: (out: string, code: number) => boolean,
) {
  return new Promise<number>((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"], cwd: ROOT });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      const ms = performance.now() - started;
      if (expect(out, code ?? -1)) resolve(ms);
      else
        reject(
          new Error(
            `${command} ${args.join(" ")}: exit ${code}, stdout ${JSON.stringify(out.slice(0, 300))}, stderr ${JSON.stringify(err.slice(0, 300))}`,
          ),
        );
    });
    child.stdin.end(input ?? undefined);
  });
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;

interface Row {
  name: string;
  samples: number[];
}

function table(rows: Row[]): void {
  const header = ["", "n", "p50 ms", "p95 ms", "mean ms", "min ms"];
  const lines = rows.map((r) => {
    const s = [...r.samples].sort((a, b) => a - b);
    const mean = s.reduce((a, b) => a + b, 0) / s.length;
    return [
      r.name,
      String(s.length),
      ...[percentile(s, 50), percentile(s, 95), mean, s[0] as number].map((v) => v.toFixed(1)),
    ];
  });
  const widths = header.map((_, i) => Math.max(...[header, ...lines].map((l) => (l[i] ?? "").length)));
  for (const line of [header, ...lines])
    console.log(
      line
        .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
        .join("  "),
    );
}

async function startServer(): Promise<{ url: string; child: ChildProcess; dir: string }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "cb-hook-bench-"));
  const child = spawn(
    process.execPath,
    [
      BIN,
      "serve",
      "--port",
      String(port),
      ...(CONFIG === "no-db" ? ["--no-db"] : []),
      "--data-dir",
      dir,
      "--log-level",
      "error",
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      if (await healthyWithDatabase(port)()) return { url, child, dir };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error("the server did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
}

const own = flags.url ? null : await startServer();
const url = flags.url ?? (own as { url: string }).url;
const dead = `http://127.0.0.1:${await freePort()}`;
try {
  const allowed = (out: string, code: number) => code === 0 && out.trim() === "{}";
  const silent = (out: string, code: number) => code === 0 && out === "";
  // Warm the file cache and the server once before measuring.
  await timed(process.execPath, [BIN, "hook", "--url", url], payload, allowed);
  const rows: Row[] = [
    { name: "node -e 0", samples: [] },
    { name: "hook, server down", samples: [] },
    { name: "hook → server", samples: [] },
    { name: "full CLI --version", samples: [] },
    ...(flags.npx ? [{ name: "npx claudebench hook", samples: [] }] : []),
    { name: "POST /hook/claude (no spawn)", samples: [] },
  ];
  const byName = (name: string) => rows.find((r) => r.name === name) as Row;
  // Interleaved, so that a busy moment of the machine spreads over every row alike.
  for (let i = 0; i < N; i++) {
    byName("node -e 0").samples.push(await timed(process.execPath, ["-e", "0"], null, (_, c) => c === 0));
    byName("hook, server down").samples.push(
      await timed(process.execPath, [BIN, "hook", "--url", dead], payload, silent),
    );
    byName("hook → server").samples.push(
      await timed(process.execPath, [BIN, "hook", "--url", url], payload, allowed),
    );
    byName("full CLI --version").samples.push(
      await timed(process.execPath, [BIN, "--version"], null, (_, c) => c === 0),
    );
    if (flags.npx)
      byName("npx claudebench hook").samples.push(
        await timed("npx", ["--no-install", "claudebench", "hook", "--url", url], payload, allowed),
      );
    const started = performance.now();
    const res = await fetch(`${url}/hook/claude`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: payload,
    });
    await res.text();
    byName("POST /hook/claude (no spawn)").samples.push(performance.now() - started);
  }
  console.log(
    `claudebench hook latency: ${N} runs per row, ${cpus().length} CPUs, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}, node ${process.version}`,
  );
  table(rows);
} finally {
  if (own) {
    own.child.kill("SIGTERM");
    await new Promise((r) => own.child.once("exit", r));
    rmSync(own.dir, { recursive: true, force: true });
  }
}
