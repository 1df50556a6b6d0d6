/**
 * Task lifecycles over HTTP: ClaudeBench against the reference minimal server
 * (/work/shared/bench/ref-min-server.js: node:http + ioredis, one Lua script per call, no
 * validation, events or persistence), both on the SAME private redis-server, in the same run.
 *
 *   npm run bench:tasks [-- --n 3000 --warmup 300 --prewarm 5000 --c 1,10,50 --rounds 3 --split | --cpu-prof]
 *
 * Load: the shared load script (jsonrpc-load.js --mode cycle: create → claim → complete per
 * loop, `--c` loops in flight) with `--profile claudebench` against ours and `--profile minimal`
 * against the reference, as a child process. For each server and concurrency: cycles/s,
 * p50/p99 per method, and the CPU time of the server process and of redis-server per cycle
 * (from /proc/<pid>/stat over the measured phase). The order of the servers rotates per
 * round; the summary shows medians over rounds. Each server first runs `--prewarm` unmeasured
 * cycles once.
 *
 * Ours runs twice: `--no-db` ("claudebench") and in the default configuration with its history
 * store ("claudebench (default)": PGlite in its own process, persisting every event and audit
 * record), each on its own key prefix; the summary adds default/--no-db per concurrency.
 *
 * `--split` adds two servers, each behind a node:http JSON-RPC endpoint as bare as the reference's:
 * bench/bare-queue-server.mjs calls our TaskQueue (same Lua, same Redis client code and settings),
 * bench/bare-dispatch-server.mjs hands each call to a whole in-process server's dispatcher. So the
 * gap ours/ref divides into our queue (bare queue/ref), our dispatch pipeline: validation,
 * middleware, handlers, background loops (bare dispatch/bare queue), and our HTTP transport with
 * its JSON-RPC handling (ours/bare dispatch).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { DEFAULT_QUEUE_SETTINGS } from "../src/domain/tasks/queue.js";
import { type EmbeddedRedis, startEmbeddedRedis } from "../src/storage/embedded-redis.js";
import {
  answersJsonRpc,
  benchFlags,
  type Child,
  childPids,
  children,
  cpuMeter,
  ensureBuilt,
  fmt,
  freePort,
  healthyWithDatabase,
  machineLine,
  median,
  medianOrNull,
  onInterrupt,
  REPORT_CPU_ON_EXIT,
  ROOT,
  reportedCpuSeconds,
  runNode,
  SHARED_BENCH,
  serveArgs,
  startChild,
  stopChild,
  table,
  verdict,
  waitForQuiet,
} from "./lib.js";

const SCRIPT = "task-cycles";
const KEY_PREFIX = "benchA";
const DEFAULT_KEY_PREFIX = "benchB";
const BARE_QUEUE_PREFIX = "benchQ";
const BARE_DISPATCH_PREFIX = "benchD";
/** Event stream cap of ours and the split's servers: large enough that no event of a run is trimmed. */
const EVENT_MAXLEN = 1_000_000;
/** Ours (and the bare dispatch) with the queue settings the bare queue uses (DEFAULT_QUEUE_SETTINGS), whatever the environment says. */
const OURS_QUEUE_ENV = {
  EVENT_STREAM_MAXLEN: String(EVENT_MAXLEN),
  LEASE_MS: String(DEFAULT_QUEUE_SETTINGS.leaseMs),
  QUEUE_MAX: String(DEFAULT_QUEUE_SETTINGS.maxQueued),
};
const TARGET_CYCLES = 0.8; // ours ≥ 0.8× the reference's cycles/s
const TARGET_CPU = 1.3; // ours ≤ 1.3× the reference's server CPU per cycle
/** A measured phase during which the rest of the machine used more than this (% of a core) is disturbed. */
const BUSY_MACHINE_PCT = 25;
const METHODS = ["create", "claim", "complete"] as const;

const flags = benchFlags("bench:tasks", {
  n: { int: 3000, help: "measured cycles (create → claim → complete) per server, concurrency and round" },
  warmup: { int: 300, help: "unmeasured cycles before each measured phase" },
  prewarm: {
    count: 5000,
    help: "unmeasured cycles at c=10 per server once at start, so that round 1 does not measure JIT warm-up",
  },
  c: { ints: "1,10,50", help: "concurrencies (loops in flight), comma-separated" },
  rounds: { int: 3, help: "rounds; the order of the servers alternates, the summary shows medians" },
  "wait-quiet": {
    seconds: 0,
    help: "before each measurement wait up to this many seconds for the machine to be nearly idle",
  },
  split: {
    on: false,
    help:
      "also measure our task queue and our dispatcher behind bare node:http servers\n" +
      "(bench/bare-queue-server.mjs, bench/bare-dispatch-server.mjs);\n" +
      "a round disturbed while it ran is left out of every summary, ours/ref too",
  },
  "cpu-prof": {
    on: false,
    help: "run our server under node --cpu-prof (the profile directory is printed at the end)",
  },
});
if (flags.split && flags["cpu-prof"]) {
  console.error(
    "bench:tasks: --split compares server CPU, which --cpu-prof inflates for ours only; use one of them",
  );
  process.exit(2);
}
const {
  n: N,
  warmup: WARMUP,
  prewarm: PREWARM,
  c: CONCURRENCIES,
  rounds: ROUNDS,
  "wait-quiet": WAIT_QUIET_S,
} = flags;
const LOAD_SCRIPT = join(SHARED_BENCH, "jsonrpc-load.js");
const REF_SERVER = join(SHARED_BENCH, "ref-min-server.js");

// ---------------------------------------------------------------------------- load

interface LoadResult {
  ok: number;
  ok_per_s: number;
  secs: number;
  noClaim: number;
  dupIds: number;
  fallbacks: number;
  errors: Record<string, number>;
  sample_errors: Record<string, string>;
  perMethod: Record<string, { n: number; p50_ms: number; p99_ms: number }>;
}

interface Target {
  readonly name: string;
  readonly profile: "claudebench" | "minimal";
  readonly port: number;
  readonly server: Child;
}

interface Measurement {
  load: LoadResult;
  cyclesPerSec: number;
  /** Server process CPU per cycle, µs. */
  serverUs: number | null;
  /** redis-server CPU per cycle, µs. */
  redisUs: number | null;
  /** CPU of the server's own child processes (the default's history store) per cycle, µs. */
  storeUs: number | null;
  /** CPU used by the load generator, % of a core. */
  loadPct: number | null;
  /** CPU used by anything else on the machine, % of a core. */
  otherPct: number | null;
}

async function runLoad(
  target: Target,
  n: number,
  c: number,
): Promise<{ load: LoadResult; cpu: number | null }> {
  const { stdout, stderr } = await runNode([
    "--import",
    REPORT_CPU_ON_EXIT,
    LOAD_SCRIPT,
    "--url",
    `http://127.0.0.1:${target.port}/rpc`,
    "--mode",
    "cycle",
    "--n",
    String(n),
    "--c",
    String(c),
    "--profile",
    target.profile,
  ]);
  const line = stdout.trim().split("\n").pop() ?? "";
  return { load: JSON.parse(line) as LoadResult, cpu: reportedCpuSeconds(stderr) };
}

async function measure(target: Target, c: number, redisPid: number): Promise<Measurement> {
  await runLoad(target, WARMUP, c);
  const stores = childPids(target.server.pid);
  const meter = cpuMeter([target.server.pid, redisPid, ...stores]);
  const { load, cpu } = await runLoad(target, N, c);
  const usage = meter.stop();
  const [serverSec, redisSec, ...storeSecs] = usage.seconds;
  const storeSec = storeSecs.reduce<number>((sum, v) => sum + (v ?? 0), 0);
  const per = (sec: number | null | undefined) =>
    sec === null || sec === undefined || load.ok === 0 ? null : (sec * 1e6) / load.ok;
  const other =
    usage.machineSeconds === null || serverSec == null || redisSec == null || cpu === null
      ? null
      : Math.max(0, usage.machineSeconds - serverSec - redisSec - storeSec - cpu - usage.selfSeconds);
  return {
    load,
    cyclesPerSec: load.ok_per_s,
    serverUs: per(serverSec),
    redisUs: per(redisSec),
    storeUs: stores.length > 0 ? per(storeSec) : null,
    loadPct: cpu === null ? null : (cpu / usage.wallSeconds) * 100,
    otherPct: other === null ? null : (other / usage.wallSeconds) * 100,
  };
}

/** One round at one concurrency: each server's measurement (`bare` and `dispatch` with --split). */
interface Round {
  ours: Measurement;
  ref: Measurement;
  default?: Measurement;
  bare?: Measurement;
  dispatch?: Measurement;
}
type Side = keyof Round;

/**
 * With --split: ours/ref in three factors (per round their product; medians only approximately):
 * our queue (bare/ref), our dispatch pipeline (dispatch/bare) and our HTTP transport
 * (ours/dispatch). Medians of per-round ratios.
 */
function splitTable(rounds: Map<number, Round[]>): string {
  const factors: [Side, Side, string][] = [
    ["bare", "ref", "bare/ref"],
    ["dispatch", "bare", "dispatch/bare"],
    ["ours", "dispatch", "ours/dispatch"],
  ];
  const rows = [
    [
      "c",
      ...factors.flatMap(([, , name]) => [`${name} cycles/s`, `${name} server CPU`]),
      "bare/ref redis CPU",
      "ours/bare redis CPU",
    ],
  ];
  for (const [c, used] of rounds) {
    const ratio = (a: Side, b: Side, pick: (m: Measurement) => number | null) => {
      const ratios = used.flatMap((r) => {
        const x = r[a] ? pick(r[a]) : null;
        const y = r[b] ? pick(r[b]) : null;
        return x && y ? [x / y] : [];
      });
      return ratios.length ? `${fmt(median(ratios), 2)}x` : "n/a";
    };
    rows.push([
      String(c),
      ...factors.flatMap(([a, b]) => [ratio(a, b, (m) => m.cyclesPerSec), ratio(a, b, (m) => m.serverUs)]),
      ratio("bare", "ref", (m) => m.redisUs),
      ratio("ours", "bare", (m) => m.redisUs),
    ]);
  }
  return table(rows);
}

/** What the history store costs: ours in the default configuration against ours with --no-db. */
function persistenceTable(rounds: Map<number, Round[]>): string {
  const worstP99 = (m: Measurement) =>
    Math.max(...METHODS.map((k) => m.load.perMethod[k]?.p99_ms ?? Number.NaN));
  const rows = [
    [
      "c",
      "cycles/s default/--no-db",
      "worst p99 default/--no-db",
      "server CPU default/--no-db",
      "store CPU µs/cycle",
    ],
  ];
  for (const [c, used] of rounds) {
    const ratio = (pick: (m: Measurement) => number | null) => {
      const ratios = used.flatMap((r) => {
        const x = r.default ? pick(r.default) : null;
        const y = pick(r.ours);
        return x && y ? [x / y] : [];
      });
      return ratios.length ? `${fmt(median(ratios), 2)}x` : "n/a";
    };
    const storeUs = medianOrNull(used.map((r) => r.default?.storeUs ?? null));
    rows.push([
      String(c),
      ratio((m) => m.cyclesPerSec),
      ratio(worstP99),
      ratio((m) => m.serverUs),
      fmt(storeUs, 0),
    ]);
  }
  return table(rows);
}

const errorCount = (load: LoadResult) => Object.values(load.errors).reduce((sum, n) => sum + n, 0);

// ---------------------------------------------------------------------------- double claims

interface ClaimAudit {
  created: number;
  claimed: number;
  completed: number;
  /** Task ids claimed more than once. */
  doubleClaimed: number;
  /** Task ids completed more than once. */
  doubleCompleted: number;
  /** Created task ids with no claim, or no completion (the load leaves none behind). */
  neverClaimed: number;
  neverCompleted: number;
  streamLength: number;
}

/** Reads the whole event stream and counts each task id's claimed and completed events. */
async function auditEvents(redis: Redis): Promise<ClaimAudit> {
  const key = `${KEY_PREFIX}:{tasks}:events`;
  const counts = new Map<string, { created: number; claimed: number; completed: number }>();
  let start = "-";
  let streamLength = 0;
  for (;;) {
    const entries = (await redis.xrange(key, start, "+", "COUNT", 10_000)) as [string, string[]][];
    if (entries.length === 0) break;
    for (const [, fields] of entries) {
      streamLength++;
      let event = "";
      let payload = "";
      for (let i = 0; i + 1 < fields.length; i += 2) {
        if (fields[i] === "event") event = fields[i + 1] as string;
        else if (fields[i] === "payload") payload = fields[i + 1] as string;
      }
      if (event !== "task.created" && event !== "task.claimed" && event !== "task.completed") continue;
      const id = (JSON.parse(payload) as { task: { id: string } }).task.id;
      let entry = counts.get(id);
      if (!entry) {
        entry = { created: 0, claimed: 0, completed: 0 };
        counts.set(id, entry);
      }
      entry[event === "task.created" ? "created" : event === "task.claimed" ? "claimed" : "completed"]++;
    }
    const lastId = (entries[entries.length - 1] as [string, string[]])[0];
    start = `(${lastId}`;
  }
  const audit: ClaimAudit = {
    created: 0,
    claimed: 0,
    completed: 0,
    doubleClaimed: 0,
    doubleCompleted: 0,
    neverClaimed: 0,
    neverCompleted: 0,
    streamLength,
  };
  for (const entry of counts.values()) {
    audit.created += entry.created;
    audit.claimed += entry.claimed;
    audit.completed += entry.completed;
    if (entry.claimed > 1) audit.doubleClaimed++;
    if (entry.completed > 1) audit.doubleCompleted++;
    if (entry.created > 0 && entry.claimed === 0) audit.neverClaimed++;
    if (entry.created > 0 && entry.completed === 0) audit.neverCompleted++;
  }
  return audit;
}

// ---------------------------------------------------------------------------- main

let dataDir: string | null = null;
let embedded: EmbeddedRedis | null = null;
let client: Redis | null = null;
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    client?.disconnect();
    await Promise.all([...children].map(stopChild));
    await embedded?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  })();
  return cleaning;
}
onInterrupt(SCRIPT, cleanup);

async function main(): Promise<number> {
  ensureBuilt();
  console.log(machineLine(SCRIPT));
  console.log(
    `  ${N} measured cycles per server, concurrency and round after ${WARMUP} warm-up; c = ${CONCURRENCIES.join(", ")}; ` +
      `${ROUNDS} rounds; load: ${LOAD_SCRIPT} --mode cycle\n`,
  );

  dataDir = mkdtempSync(join(tmpdir(), "cb-bench-tasks-"));
  // The reference server takes a bare port: no password on this throwaway redis-server.
  embedded = await startEmbeddedRedis({
    dataDir: join(dataDir, "redis"),
    appendOnly: false,
    requirePassword: false,
  });
  client = new Redis(embedded.url);

  const profileDir = flags["cpu-prof"] ? join(tmpdir(), `cb-cpu-prof-tasks-${Date.now()}`) : null;
  const oursPort = await freePort();
  const ours: Target = {
    name: "claudebench",
    profile: "claudebench",
    port: oursPort,
    server: await startChild(
      "claudebench",
      [
        ...(profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : []),
        ...serveArgs(oursPort, embedded.url, KEY_PREFIX),
      ],
      { env: { ...process.env, ...OURS_QUEUE_ENV }, ready: answersJsonRpc(oursPort) },
    ),
  };
  const defaultPort = await freePort();
  const oursDefault: Target = {
    name: "claudebench (default)",
    profile: "claudebench",
    port: defaultPort,
    server: await startChild(
      "claudebench (default)",
      [
        ...(profileDir ? ["--cpu-prof", "--cpu-prof-dir", join(profileDir, "default")] : []),
        ...serveArgs(defaultPort, embedded.url, DEFAULT_KEY_PREFIX, "default", join(dataDir, "store")),
      ],
      {
        env: { ...process.env, ...OURS_QUEUE_ENV },
        ready: healthyWithDatabase(defaultPort),
        timeoutMs: 120_000,
      },
    ),
  };
  const refPort = await freePort();
  const ref: Target = {
    name: "reference",
    profile: "minimal",
    port: refPort,
    server: await startChild("reference", [REF_SERVER, String(refPort), String(embedded.port)], {
      env: { ...process.env, NODE_PATH: join(ROOT, "node_modules") },
      ready: answersJsonRpc(refPort),
    }),
  };

  const sides = new Map<Side, Target>([
    ["ref", ref],
    ["ours", ours],
  ]);
  if (flags.split) {
    const barePort = await freePort();
    sides.set("bare", {
      name: "bare queue",
      profile: "claudebench",
      port: barePort,
      server: await startChild(
        "bare queue",
        [
          join(ROOT, "bench", "bare-queue-server.mjs"),
          String(barePort),
          embedded.url,
          BARE_QUEUE_PREFIX,
          String(EVENT_MAXLEN),
        ],
        { env: process.env, ready: answersJsonRpc(barePort) },
      ),
    });
    const dispatchPort = await freePort();
    sides.set("dispatch", {
      name: "bare dispatch",
      profile: "claudebench",
      port: dispatchPort,
      server: await startChild(
        "bare dispatch",
        [
          join(ROOT, "bench", "bare-dispatch-server.mjs"),
          String(dispatchPort),
          embedded.url,
          BARE_DISPATCH_PREFIX,
        ],
        { env: { ...process.env, ...OURS_QUEUE_ENV }, ready: answersJsonRpc(dispatchPort) },
      ),
    });
  }
  sides.set("default", oursDefault);
  const targets = [...sides.values()];
  // A server's first few thousand cycles run partly unoptimised code (ours, with far more code to
  // optimise, took ~5,000 cycles to settle); a long-running server pays that once.
  for (const target of targets) {
    if (PREWARM === 0) break;
    const { load } = await runLoad(target, PREWARM, 10);
    const errors = errorCount(load);
    if (errors)
      console.log(`prewarm of ${target.name}: ${errors} ERRORS ${JSON.stringify(load.sample_errors)}`);
  }

  const results = new Map<number, Round[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of CONCURRENCIES) {
      if (WAIT_QUIET_S > 0) await waitForQuiet(WAIT_QUIET_S * 1000);
      // Rotated, so that each server is measured in each position, right after waitForQuiet too.
      const shift = round % targets.length;
      const order = [...targets.slice(shift), ...targets.slice(0, shift)];
      const measured = new Map<Target, Measurement>();
      for (const target of order) {
        const m = await measure(target, c, embedded.pid);
        measured.set(target, m);
        const errors = errorCount(m.load);
        console.log(
          `round ${round + 1}  c=${String(c).padEnd(3)} ${target.name.padEnd(12)} ${fmt(m.cyclesPerSec, 0).padStart(6)} cycles/s` +
            `  server ${fmt(m.serverUs, 0)} µs/cycle  redis ${fmt(m.redisUs, 0)} µs/cycle` +
            `  (load generator ${fmt(m.loadPct, 0)} %, rest of machine ${fmt(m.otherPct, 0)} % of a core)` +
            (errors ? `  ${errors} ERRORS ${JSON.stringify(m.load.sample_errors)}` : "") +
            (m.load.noClaim || m.load.dupIds ? `  noClaim ${m.load.noClaim} dupIds ${m.load.dupIds}` : ""),
        );
      }
      const list = results.get(c) ?? [];
      const entry: Round = { ours: measured.get(ours) as Measurement, ref: measured.get(ref) as Measurement };
      for (const [side, target] of sides) entry[side] = measured.get(target) as Measurement;
      list.push(entry);
      results.set(c, list);
    }
  }

  // ---------------------------------------------------------------- summary
  const quiet = (m: Measurement | undefined) =>
    m === undefined || m.otherPct === null || m.otherPct <= BUSY_MACHINE_PCT;
  const quietRound = (r: Round) => [...sides.keys()].every((side) => quiet(r[side]));
  const sideName = (side: Side) => (side === "ref" ? `${ref.name} (ref)` : (sides.get(side) as Target).name);
  // The table lists the servers from the least to the most work per request.
  const tableSides = (["ref", "bare", "dispatch", "ours", "default"] as const).filter((side) =>
    sides.has(side),
  );
  console.log(`\nmedians over rounds (${N} cycles each); latency in ms; CPU in µs per cycle:\n`);
  const header = [
    "c",
    "server",
    "cycles/s",
    ...METHODS.flatMap((m) => [`${m} p50`, `${m} p99`]),
    "server CPU",
    "redis CPU",
  ];
  const rows: string[][] = [header];
  const ratioRows: string[][] = [
    [
      "c",
      "cycles/s ours/ref",
      "per round",
      "CPU/cycle ours/ref",
      "per round",
      "redis CPU ours/ref",
      "rounds used",
    ],
  ];
  const verdicts: string[] = [];
  const usedRounds = new Map<number, Round[]>();
  for (const c of CONCURRENCIES) {
    const all = results.get(c) ?? [];
    const quietRounds = all.filter(quietRound);
    const used = quietRounds.length > 0 ? quietRounds : all;
    usedRounds.set(c, used);
    for (const side of tableSides) {
      const ms = used.map((r) => r[side] as Measurement);
      rows.push([
        String(c),
        sideName(side),
        fmt(median(ms.map((m) => m.cyclesPerSec)), 0),
        ...METHODS.flatMap((method) => [
          fmt(median(ms.map((m) => m.load.perMethod[method]?.p50_ms ?? Number.NaN)), 2),
          fmt(median(ms.map((m) => m.load.perMethod[method]?.p99_ms ?? Number.NaN)), 2),
        ]),
        fmt(medianOrNull(ms.map((m) => m.serverUs)), 0),
        fmt(medianOrNull(ms.map((m) => m.redisUs)), 0),
      ]);
    }
    const cycleRatios = used.map((r) => r.ours.cyclesPerSec / r.ref.cyclesPerSec);
    const cpuRatios = used.flatMap((r) =>
      r.ours.serverUs && r.ref.serverUs ? [r.ours.serverUs / r.ref.serverUs] : [],
    );
    const redisRatios = used.flatMap((r) =>
      r.ours.redisUs && r.ref.redisUs ? [r.ours.redisUs / r.ref.redisUs] : [],
    );
    const range = (xs: number[]) =>
      xs.length ? `${fmt(Math.min(...xs), 2)}–${fmt(Math.max(...xs), 2)}` : "n/a";
    const cycleRatio = median(cycleRatios);
    const cpuRatio = medianOrNull(cpuRatios);
    ratioRows.push([
      String(c),
      `${fmt(cycleRatio, 2)}x`,
      range(cycleRatios),
      cpuRatio === null ? "n/a" : `${fmt(cpuRatio, 2)}x`,
      range(cpuRatios),
      redisRatios.length ? `${fmt(median(redisRatios), 2)}x` : "n/a",
      used.length === all.length ? String(all.length) : `${used.length} quiet of ${all.length}`,
    ]);
    verdicts.push(
      `c=${String(c).padEnd(3)} cycles/s >= ${TARGET_CYCLES}x ref: ${verdict(cycleRatio >= TARGET_CYCLES)} (${fmt(cycleRatio, 2)}x)` +
        `   CPU/cycle <= ${TARGET_CPU}x ref: ${cpuRatio === null ? "n/a" : `${verdict(cpuRatio <= TARGET_CPU)} (${fmt(cpuRatio, 2)}x)`}`,
    );
  }
  console.log(table(rows));
  console.log("");
  console.log(table(ratioRows));
  console.log(`\n${persistenceTable(usedRounds)}`);
  if (flags.split) console.log(`\n${splitTable(usedRounds)}`);

  // ---------------------------------------------------------------- double claims
  const audit = await auditEvents(client);
  const loadsOf = (side: Side) =>
    [...results.values()].flatMap((rs) =>
      rs.flatMap((r) => (r[side] ? [(r[side] as Measurement).load] : [])),
    );
  const loads = loadsOf("ours");
  const sum = (ls: LoadResult[], f: (l: LoadResult) => number) => ls.reduce((s, l) => s + f(l), 0);
  const doubles = audit.doubleClaimed + sum(loads, (l) => l.dupIds);
  console.log(
    `\ndouble claims, ours (event stream ${audit.streamLength} entries, all runs incl. warm-up): ` +
      `${audit.created} tasks created, ${audit.claimed} task.claimed, ${audit.completed} task.completed events; ` +
      `${audit.doubleClaimed} ids claimed more than once, ${audit.doubleCompleted} completed more than once, ` +
      `${audit.neverClaimed} never claimed, ${audit.neverCompleted} never completed`,
  );
  console.log(
    `load script counters (measured phases): ${tableSides
      .map((side) => {
        const ls = loadsOf(side);
        return `${side === "ref" ? "ref" : (sides.get(side) as Target).name} dupIds ${sum(ls, (l) => l.dupIds)}, noClaim ${sum(ls, (l) => l.noClaim)}`;
      })
      .join("; ")}`,
  );

  console.log("\ntargets:");
  for (const line of verdicts) console.log(`  ${line}`);
  console.log(`  zero double claims: ${verdict(doubles === 0 && audit.doubleCompleted === 0)} (${doubles})`);

  const failed = tableSides.flatMap(loadsOf).reduce((s, l) => s + errorCount(l), 0);
  const quietCount = [...results.values()].flat().filter(quietRound).length;
  const total = [...results.values()].flat().length;
  if (quietCount < total) {
    console.log(
      `\nnote: in ${total - quietCount} of ${total} measurements the rest of the machine used more than ` +
        `${BUSY_MACHINE_PCT} % of a core; ${quietCount > 0 ? "those rounds are left out of the summary where quiet ones exist" : "all are disturbed"}.`,
    );
  }
  if (failed > 0) console.log(`\nERRORS: ${failed} failed requests; the figures above are not valid.`);
  await cleanup();
  if (profileDir) console.log(`\nCPU profile of our server (.cpuprofile): ${profileDir}`);
  return failed > 0 ? 1 : 0;
}

main()
  .then((code) => {
    process.exitCode = code;
  })
  .catch(async (err) => {
    console.error(`${SCRIPT}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await cleanup();
    process.exitCode = 1;
  });
