/**
 * What the default `claudebench serve` costs beside `serve --no-db`: start-up time, memory and
 * task throughput, each configuration as a user runs it (its own private redis-server, its own
 * data directory), paired in one run.
 *
 *   npm run bench:footprint [-- --rounds 3 --n 3000 --c 10 --soak 0 --soak-rate 100]
 *
 * Per configuration and round, in a fresh data directory:
 *   first start   spawn → /health answers (listening) → /health says "healthy"; then, 3 s later,
 *                 the resident memory (RSS, /proc/<pid>/status) of the server process and, apart,
 *                 of each process it started: the history store's child (its whole process tree),
 *                 the private redis-server; and the server's peak RSS (VmHWM) since it started.
 *   later start   the same after SIGTERM and a start on the same data directory.
 *   load          jsonrpc-load.js --mode cycle at `--c` (after an unmeasured warm-up): cycles/s and
 *                 the p99 of each method; RSS again once the history store has caught up.
 * The configurations alternate within a round (which goes first rotates), so that a busy moment
 * of the shared machine falls on both alike; the summary shows medians and default/--no-db.
 * `--soak S` then runs the default for S seconds of moderate load (`--soak-rate` cycles/s, as
 * create → claim → complete) and prints RSS every 30 s. Targets (issue 18): the default healthy
 * in < 1 s, ≤ 150 MB RSS after start and after load, ≥ 0.9× the cycles/s of --no-db and a p99 at
 * most 1/0.9 of its. A benchmark: it prints figures and asserts nothing.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { createKeys } from "../src/storage/keys.js";
import {
  benchFlags,
  children,
  cpuMeter,
  ensureBuilt,
  fmt,
  freePort,
  machineLine,
  median,
  onInterrupt,
  ROOT,
  runNode,
  SHARED_BENCH,
  startChild,
  stopChild,
  table,
  verdict,
} from "./lib.js";

const SCRIPT = "footprint";
const BIN = join(ROOT, "bin", "claudebench.js");
const LOAD_SCRIPT = join(SHARED_BENCH, "jsonrpc-load.js");
const METHODS = ["create", "claim", "complete"] as const;
const SETTLE_MS = 3000;

const flags = benchFlags("bench:footprint", {
  rounds: {
    count: 3,
    help: "rounds; each starts every configuration twice and loads it once (0: --soak alone)",
  },
  n: { int: 3000, help: "measured cycles (create → claim → complete) per configuration and round" },
  warmup: { count: 1000, help: "unmeasured cycles before the measured ones" },
  c: { int: 10, help: "loops in flight during the load" },
  soak: { seconds: 0, help: "then run the default this many seconds under moderate load, printing RSS" },
  "soak-rate": { int: 100, help: "cycles per second during --soak" },
  baseline: {
    text: undefined,
    hint: "<checkout>",
    help: "also run the default of another built checkout (its bin/claudebench.js) as `baseline`",
  },
  configs: {
    text: "no-db,default",
    hint: "no-db,default",
    help: "configurations to compare, comma-separated (see CONFIGS in the script)",
  },
});

/** A way to run `serve`: extra arguments and environment. */
interface Config {
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** The CLI to run; ours by default. */
  readonly bin?: string;
}

const CONFIGS: Record<string, Config> = {
  "no-db": { args: ["--no-db"] },
  default: { args: [] },
  ...(flags.baseline ? { baseline: { args: [], bin: join(flags.baseline, "bin", "claudebench.js") } } : {}),
};

// ---------------------------------------------------------------------------- processes and memory

interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
}

function processes(): ProcInfo[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        return [{ pid: Number(pid), ppid, comm }];
      } catch {
        return [];
      }
    });
}

/** Every process below `root` (children, their children...). */
function descendants(root: number): ProcInfo[] {
  const all = processes();
  const out: ProcInfo[] = [];
  const parents = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) {
      if (parents.has(p.ppid) && !parents.has(p.pid)) {
        parents.add(p.pid);
        out.push(p);
        grew = true;
      }
    }
  }
  return out;
}

/** A field of /proc/<pid>/status in MB (VmRSS, VmHWM), 0 when the process is gone. */
function statusMb(pid: number, field: "VmRSS" | "VmHWM"): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(
      readFileSync(`/proc/${pid}/status`, "utf8"),
    );
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Proportional set size in MB: shared pages split between the processes sharing them. */
function pssMb(pid: number): number {
  try {
    const match = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

interface Memory {
  /** The server process' RSS. */
  server: number;
  /** Its peak RSS since it started. */
  serverPeak: number;
  /** The history store's processes (RSS of one process; PSS summed over several, which share memory). */
  store: number;
  /** The private redis-server. */
  redis: number;
}

/** The server's own processes: the private redis-server, and the history store's (the rest). */
function helpers(serverPid: number): { redis: ProcInfo[]; store: ProcInfo[] } {
  const below = descendants(serverPid);
  const redis = below.filter((p) => p.comm === "redis-server");
  const watchdogs = new Set(below.filter((p) => p.comm === "sh").map((p) => p.pid));
  // the store: whatever else the server started, with everything below it
  const storeRoots = below.filter(
    (p) => p.ppid === serverPid && !watchdogs.has(p.pid) && p.comm !== "redis-server",
  );
  return { redis, store: storeRoots.flatMap((p) => [p, ...descendants(p.pid)]) };
}

function memory(serverPid: number): Memory {
  const { redis, store } = helpers(serverPid);
  const sum = (list: ProcInfo[], of: (pid: number) => number) => list.reduce((s, p) => s + of(p.pid), 0);
  return {
    server: statusMb(serverPid, "VmRSS"),
    serverPeak: statusMb(serverPid, "VmHWM"),
    store: store.length > 1 ? sum(store, pssMb) : sum(store, (pid) => statusMb(pid, "VmRSS")),
    redis: sum(redis, (pid) => statusMb(pid, "VmRSS")),
  };
}

// ---------------------------------------------------------------------------- a server

interface Health {
  status?: string;
  checks?: { database?: { ok?: boolean; configured?: boolean } };
}

function getHealth(port: number): Promise<Health | null> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/health", agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", () => resolve(null));
      res.on("end", () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString()) as Health);
        } catch {
          resolve(null);
        }
      });
    });
    req.setTimeout(5000, () => req.destroy());
    req.on("error", () => resolve(null));
    req.end();
  });
}

interface Started {
  child: ChildProcess;
  port: number;
  /** Spawn → /health answers. */
  listeningMs: number;
  /** Spawn → /health status "healthy". */
  healthyMs: number;
  /** Spawn → the database answers (the history store is up); healthyMs without one. */
  storeMs: number;
  output(): string;
}

async function startServe(dataDir: string, config: Config): Promise<Started> {
  const port = await freePort();
  const ms: { listening?: number; healthy?: number; store?: number } = {};
  const started = performance.now();
  // Ready once the store is up too; on the way, when /health first answered and said healthy.
  const ready = async () => {
    const health = await getHealth(port);
    if (!health) return false;
    const at = performance.now() - started;
    ms.listening ??= at;
    if (health.status === "healthy") ms.healthy ??= at;
    const database = health.checks?.database;
    if (ms.healthy !== undefined && (database?.ok || database?.configured === false)) ms.store = at;
    return ms.store !== undefined;
  };
  const args = [
    "serve",
    "--port",
    String(port),
    "--data-dir",
    dataDir,
    "--log-level",
    "warn",
    ...config.args,
  ];
  const { child, output } = await startChild("serve", [config.bin ?? BIN, ...args], {
    env: { ...process.env, ...config.env },
    ready,
    pollMs: 10,
    timeoutMs: 180_000,
  });
  return {
    child,
    port,
    listeningMs: ms.listening as number,
    healthyMs: ms.healthy as number,
    storeMs: ms.store as number,
    output,
  };
}

// ---------------------------------------------------------------------------- load

interface LoadResult {
  ok: number;
  ok_per_s: number;
  errors: Record<string, number>;
  sample_errors: Record<string, string>;
  perMethod: Record<string, { p50_ms: number; p99_ms: number }>;
}

async function runLoad(port: number, n: number): Promise<LoadResult> {
  const { stdout } = await runNode([
    LOAD_SCRIPT,
    "--url",
    `http://127.0.0.1:${port}/rpc`,
    "--mode",
    "cycle",
    "--n",
    String(n),
    "--c",
    String(flags.c),
    "--profile",
    "claudebench",
  ]);
  const line = stdout.trim().split("\n").pop() ?? "";
  const result = JSON.parse(line) as LoadResult;
  const errors = Object.values(result.errors).reduce((s, v) => s + v, 0);
  if (errors > 0) throw new Error(`load errors: ${JSON.stringify(result.sample_errors)}`);
  return result;
}

/**
 * Waits until the history store has written everything the load produced (its `persist` groups
 * on the event and audit streams have nothing pending and nothing unread), at most 5 minutes;
 * resolves with how long that took, null without a database.
 */
async function untilStoreCaughtUp(dataDir: string, config: Config): Promise<number | null> {
  if (config.args.includes("--no-db")) return null;
  const redis = new Redis({
    port: Number(readFileSync(join(dataDir, "redis", "port"), "utf8")),
    password: readFileSync(join(dataDir, "redis", "password"), "utf8").trim(),
  });
  const keys = createKeys("cb");
  const started = performance.now();
  try {
    for (;;) {
      let behind = 0;
      for (const stream of [keys.events(), keys.audit()]) {
        const groups = (await redis.xinfo("GROUPS", stream)) as unknown[][];
        for (const group of groups) {
          const info = new Map<string, unknown>();
          for (let i = 0; i + 1 < group.length; i += 2) info.set(String(group[i]), group[i + 1]);
          if (info.get("name") !== "persist") continue;
          behind += Number(info.get("pending") ?? 0) + Number(info.get("lag") ?? 1);
        }
      }
      if (behind === 0) return performance.now() - started;
      if (performance.now() - started > 300_000)
        throw new Error(`the history store is ${behind} entries behind after 5 min`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    redis.disconnect();
  }
}

// ---------------------------------------------------------------------------- soak

/** create → claim → complete at `rate` cycles/s for `seconds`, RSS every 30 s. */
async function soak(config: Config, seconds: number, rate: number): Promise<string[][]> {
  const soakDir = mkdtempSync(join(tmpdir(), "cb-bench-soak-"));
  const server = await startServe(soakDir, config);
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const call = (method: string, params: unknown) =>
    new Promise<unknown>((resolve, reject) => {
      const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method, params });
      const req = request(
        {
          host: "127.0.0.1",
          port: server.port,
          path: "/rpc",
          method: "POST",
          agent,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const answer = JSON.parse(Buffer.concat(chunks).toString()) as {
              result?: unknown;
              error?: unknown;
            };
            if (answer.error) reject(new Error(JSON.stringify(answer.error)));
            else resolve(answer.result);
          });
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  const rows = [["after", "cycles", "server RSS MB", "store MB", "redis MB"]];
  const sample = (label: string, cycles: number) => {
    const m = memory(server.child.pid as number);
    rows.push([label, String(cycles), fmt(m.server, 0), fmt(m.store, 0), fmt(m.redis, 0)]);
    console.log(`  soak ${rows.at(-1)?.join("  ")}`);
  };
  sample("start", 0);
  const started = Date.now();
  let cycles = 0;
  let nextSample = started + 30_000;
  try {
    while (Date.now() - started < seconds * 1000) {
      const due = started + (cycles * 1000) / rate;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      const created = (await call("task.create", {
        text: `soak ${cycles}`,
        priority: 1 + (cycles % 100),
      })) as {
        id: string;
      };
      const claimed = (await call("task.claim", { workerId: "w-soak", maxTasks: 1 })) as {
        task?: { id: string };
      };
      await call("task.complete", {
        id: claimed.task?.id ?? created.id,
        workerId: "w-soak",
        result: { ok: true },
      });
      cycles++;
      if (Date.now() >= nextSample) {
        sample(`${Math.round((Date.now() - started) / 1000)} s`, cycles);
        nextSample += 30_000;
      }
    }
    const caughtUp = await untilStoreCaughtUp(soakDir, config);
    sample(`end, history caught up in ${fmt((caughtUp ?? 0) / 1000, 1)} s`, cycles);
  } finally {
    agent.destroy();
    await stopChild(server.child);
    rmSync(soakDir, { recursive: true, force: true });
  }
  return rows;
}

// ---------------------------------------------------------------------------- main

interface Round {
  firstListening: number;
  firstHealthy: number;
  firstStore: number;
  laterStore: number;
  first: Memory;
  laterListening: number;
  laterHealthy: number;
  later: Memory;
  cyclesPerS: number;
  p99: Record<string, number>;
  /** CPU time per cycle during the measured load, ms: the server, its store, its redis-server. */
  cpu: { server: number; store: number; redis: number };
  afterLoad: Memory;
  /** From the end of the load until the history store had written all of it, ms. */
  caughtUpMs: number | null;
}

async function measure(name: string, config: Config): Promise<Round> {
  const dataDir = mkdtempSync(join(tmpdir(), "cb-bench-footprint-"));
  try {
    const first = await startServe(dataDir, config);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const firstMemory = memory(first.child.pid as number);
    await stopChild(first.child);

    const later = await startServe(dataDir, config);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const laterMemory = memory(later.child.pid as number);
    try {
      if (flags.warmup > 0) await runLoad(later.port, flags.warmup);
      const serverPid = later.child.pid as number;
      const { redis, store } = helpers(serverPid);
      const groups = [[serverPid], store.map((p) => p.pid), redis.map((p) => p.pid)];
      const meter = cpuMeter(groups.flat());
      const load = await runLoad(later.port, flags.n);
      const used = meter.stop().seconds;
      const [cpuServer, cpuStore, cpuRedis] = groups.map((pids, g) => {
        const from = groups.slice(0, g).reduce((n, group) => n + group.length, 0);
        const seconds = used.slice(from, from + pids.length).reduce<number>((sum, v) => sum + (v ?? 0), 0);
        return (seconds * 1000) / load.ok;
      });
      const caughtUpMs = await untilStoreCaughtUp(dataDir, config);
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      const round: Round = {
        firstListening: first.listeningMs,
        firstHealthy: first.healthyMs,
        firstStore: first.storeMs,
        laterStore: later.storeMs,
        first: firstMemory,
        laterListening: later.listeningMs,
        laterHealthy: later.healthyMs,
        later: laterMemory,
        cyclesPerS: load.ok_per_s,
        p99: Object.fromEntries(METHODS.map((m) => [m, load.perMethod[m]?.p99_ms ?? Number.NaN])),
        cpu: { server: cpuServer ?? 0, store: cpuStore ?? 0, redis: cpuRedis ?? 0 },
        afterLoad: memory(later.child.pid as number),
        caughtUpMs,
      };
      console.log(
        `  ${name.padEnd(10)} first ${fmt(round.firstHealthy, 0)} ms (store ${fmt(round.firstStore, 0)}), ${fmt(round.first.server, 0)} MB ` +
          `(+store ${fmt(round.first.store, 0)}, peak ${fmt(round.first.serverPeak, 0)}); later ${fmt(round.laterHealthy, 0)} ms (store ${fmt(round.laterStore, 0)}), ` +
          `${fmt(round.later.server, 0)} MB (+store ${fmt(round.later.store, 0)}); ${fmt(round.cyclesPerS, 0)} cycles/s, ` +
          `p99 ${METHODS.map((m) => fmt(round.p99[m], 1)).join("/")} ms; CPU/cycle ${fmt(round.cpu.server, 2)}+${fmt(round.cpu.store, 2)} ms; after load ${fmt(round.afterLoad.server, 0)} MB ` +
          `(+store ${fmt(round.afterLoad.store, 0)})`,
      );
      return round;
    } finally {
      await stopChild(later.child);
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  ensureBuilt();
  console.log(machineLine(SCRIPT));
  const names = flags.configs.split(",").map((s) => s.trim());
  for (const name of names) if (!CONFIGS[name]) throw new Error(`unknown configuration ${name}`);
  console.log(
    `  ${flags.rounds} rounds; load: ${LOAD_SCRIPT} --mode cycle --c ${flags.c} --n ${flags.n} after ${flags.warmup} warm-up\n`,
  );
  const results = new Map<string, Round[]>(names.map((n) => [n, []]));
  for (let round = 0; round < flags.rounds; round++) {
    console.log(`round ${round + 1}`);
    const order = names.map((_, i) => names[(i + round) % names.length] as string);
    for (const name of order) results.get(name)?.push(await measure(name, CONFIGS[name] as Config));
  }

  if (flags.rounds === 0) return soakOnly();
  const med = (name: string, of: (r: Round) => number) => median((results.get(name) ?? []).map(of));
  const header = ["", ...names];
  const row = (label: string, of: (r: Round) => number, digits = 0) => [
    label,
    ...names.map((n) => fmt(med(n, of), digits)),
  ];
  console.log(`\nmedians of ${flags.rounds} rounds (MB are RSS; the store's own processes apart)`);
  console.log(
    table([
      header,
      row("first start: listening, ms", (r) => r.firstListening),
      row("first start: healthy, ms", (r) => r.firstHealthy),
      row("first start: history store up, ms", (r) => r.firstStore),
      row("  server RSS after start, MB", (r) => r.first.server),
      row("  server peak RSS, MB", (r) => r.first.serverPeak),
      row("  history store, MB", (r) => r.first.store),
      row("  redis-server, MB", (r) => r.first.redis),
      row("later start: listening, ms", (r) => r.laterListening),
      row("later start: healthy, ms", (r) => r.laterHealthy),
      row("later start: history store up, ms", (r) => r.laterStore),
      row("  server RSS after start, MB", (r) => r.later.server),
      row("  history store, MB", (r) => r.later.store),
      row(`load c=${flags.c}: cycles/s`, (r) => r.cyclesPerS),
      ...METHODS.map((m) => row(`  p99 ${m}, ms`, (r) => r.p99[m] ?? Number.NaN, 1)),
      row("  server CPU per cycle, ms", (r) => r.cpu.server, 3),
      row("  history store CPU per cycle, ms", (r) => r.cpu.store, 3),
      row("  redis-server CPU per cycle, ms", (r) => r.cpu.redis, 3),
      row("  history written, ms after the load", (r) => r.caughtUpMs ?? Number.NaN),
      row("  server RSS after load, MB", (r) => r.afterLoad.server),
      row("  history store after load, MB", (r) => r.afterLoad.store),
      row("  redis-server after load, MB", (r) => r.afterLoad.redis),
    ]),
  );

  if (results.has("default") && results.has("no-db")) {
    const ratio = (of: (r: Round) => number) => med("default", of) / med("no-db", of);
    const worstP99 = (r: Round) => Math.max(...METHODS.map((m) => r.p99[m] ?? Number.NaN));
    const cycles = ratio((r) => r.cyclesPerS);
    const p99 = ratio(worstP99);
    const healthy = Math.max(
      med("default", (r) => r.firstHealthy),
      med("default", (r) => r.laterHealthy),
    );
    const rss = Math.max(
      med("default", (r) => r.first.server),
      med("default", (r) => r.later.server),
      med("default", (r) => r.afterLoad.server),
    );
    console.log("\ndefault against the targets (issue 18)");
    console.log(
      table([
        ["", "measured", "target", ""],
        ["healthy after start (first, later), ms", fmt(healthy, 0), "< 1000", verdict(healthy < 1000)],
        ["server RSS after start and load, MB", fmt(rss, 0), "≤ 150", verdict(rss <= 150)],
        ["cycles/s, default / --no-db", fmt(cycles, 2), "≥ 0.90", verdict(cycles >= 0.9)],
        ["worst p99, default / --no-db", fmt(p99, 2), "≤ 1.11", verdict(p99 <= 1 / 0.9)],
      ]),
    );
  }

  await soakOnly();
}

async function soakOnly(): Promise<void> {
  if (flags.soak === 0) return;
  console.log(`\nsoak: the default, ${flags.soak} s at ${flags["soak-rate"]} cycles/s`);
  console.log(table(await soak(CONFIGS.default as Config, flags.soak, flags["soak-rate"])));
}

onInterrupt(SCRIPT, async () => {
  for (const child of children) await stopChild(child);
});
try {
  await main();
} finally {
  for (const child of children) await stopChild(child);
}
