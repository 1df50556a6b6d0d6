/**
 * The work redis-server does per task lifecycle (create → claim → complete over HTTP, c=1),
 * counted in machine instructions by valgrind's callgrind: our server beside the reference server
 * (../shared/bench/ref-min-server.js) on the same redis-server, in the same run.
 *
 *   npm run bench:redis-work [-- --n 1000 --rounds 3 --idle 5]
 *
 * Why instructions: on this kind of machine (2 shared vCPUs) a wall-clock or CPU-time reading of
 * the same code varies by ±20 % from one minute to the next, so a change that saves 5 % of the
 * scripts' work cannot be seen in bench:tasks. An instruction count repeats: within 1 % for the
 * reference, ~3 % for ours (its batched audit flushes vary with a phase's length; the first round
 * after start-up reads highest, so the summary takes medians). What it does not show: the time cache misses cost. At c=1 each script starts
 * with cold caches (the server and the load generator ran in between), and there the time in
 * Redis follows the number of keys and commands a script touches more than its instructions
 * (docs/performance.md, "Work in Redis").
 *
 * Each phase: instrumentation on, counters zeroed, the load, a dump; `INFO commandstats` over the
 * same phase gives the commands (client commands and calls inside scripts alike). Everything
 * redis-server does in the phase is counted, our server's batched audit writes included. Its
 * background loops (maintenance, membership: a few scripts a second) are measured in an idle
 * phase first and their share of each phase's duration is taken off: under valgrind a phase
 * lasts ~30x longer than it would, so they would otherwise count ~30x too much.
 * Ours runs in the default configuration (`--config default`: its history store's process reads
 * the event and audit streams through their `persist` groups, which counts here too) or with
 * `--config no-db` (persistence off, as the figures before issue 18).
 * Needs valgrind (Debian: apt-get install valgrind).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { CountedRedis } from "./callgrind.js";
import {
  answersJsonRpc,
  benchFlags,
  CONFIG_FLAG,
  children,
  ensureBuilt,
  fmt,
  freePort,
  healthyWithDatabase,
  machineLine,
  median,
  onInterrupt,
  parseCommandStats,
  ROOT,
  runNode,
  SHARED_BENCH,
  serveArgs,
  serveConfig,
  startChild,
  stopChild,
  table,
} from "./lib.js";

const SCRIPT = "redis-work";

const {
  n: N,
  rounds: ROUNDS,
  idle: IDLE_S,
  config,
} = benchFlags("bench:redis-work", {
  n: { int: 1000, help: "lifecycles (create → claim → complete) per server and round, at c=1" },
  rounds: { int: 3, help: "rounds (ours, then the reference; the order alternates)" },
  idle: { int: 5, help: "seconds of the idle phase that measures the servers' background" },
  config: CONFIG_FLAG,
});
const CONFIG = serveConfig("bench:redis-work", config);

let dataDir: string | null = null;
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all([...children].map(stopChild));
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  })();
  return cleaning;
}
onInterrupt(SCRIPT, cleanup);

type Target = "ours" | "ref";

async function main(): Promise<void> {
  ensureBuilt();
  console.log(machineLine(SCRIPT));
  console.log(
    `  ${N} lifecycles over HTTP at c=1 per server and round, ${ROUNDS} rounds; redis-server under callgrind; ours: ${CONFIG}\n`,
  );
  dataDir = mkdtempSync(join(tmpdir(), "cb-bench-work-"));
  const redis = await CountedRedis.start(dataDir);
  const ports: Record<Target, number> = { ours: await freePort(), ref: await freePort() };
  await startChild(
    "claudebench",
    serveArgs(ports.ours, redis.url, "benchW", CONFIG, join(dataDir, "store")),
    {
      ready: healthyWithDatabase(ports.ours),
      timeoutMs: 120_000,
    },
  );
  await startChild(
    "reference",
    [join(SHARED_BENCH, "ref-min-server.js"), String(ports.ref), String(redis.port)],
    {
      env: { ...process.env, NODE_PATH: join(ROOT, "node_modules") },
      ready: answersJsonRpc(ports.ref),
      timeoutMs: 120_000,
    },
  );
  const load = async (target: Target, n: number) => {
    const { stdout } = await runNode([
      join(SHARED_BENCH, "jsonrpc-load.js"),
      ...["--url", `http://127.0.0.1:${ports[target]}/rpc`, "--mode", "cycle", "--n", String(n), "--c", "1"],
      ...["--profile", target === "ours" ? "claudebench" : "minimal"],
    ]);
    const result = JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as { ok: number };
    if (result.ok !== n) throw new Error(`${target}: ${result.ok} of ${n} lifecycles succeeded`);
  };
  // Scripts loaded and both servers' code warm before anything is counted.
  await load("ours", 100);
  await load("ref", 100);

  const admin = new Redis(redis.url);
  /** Commands in the phase, as INFO commandstats counts them since the last RESETSTAT. */
  const commandsSinceReset = async () => {
    const stats = parseCommandStats(String(await admin.info("commandstats")));
    let commands = 0;
    for (const [name, { calls }] of stats) if (!/^(config|info)/.test(name)) commands += calls;
    return { commands, scripts: (stats.get("evalsha")?.calls ?? 0) + (stats.get("eval")?.calls ?? 0) };
  };
  await admin.config("RESETSTAT");
  const idle = await redis.count(() => new Promise((r) => setTimeout(r, IDLE_S * 1000)));
  const idleCommands = await commandsSinceReset();
  const background = {
    instructions: idle.instructions / idle.seconds,
    commands: idleCommands.commands / idle.seconds,
    scripts: idleCommands.scripts / idle.seconds,
  };
  console.log(
    `idle: ${fmt(background.instructions / 1000, 0)}k instructions, ${fmt(background.commands, 1)} commands, ` +
      `${fmt(background.scripts, 1)} scripts per second (both servers' background; taken off each phase)\n`,
  );
  const results: Record<Target, { instructions: number[]; commands: number[]; scripts: number[] }> = {
    ours: { instructions: [], commands: [], scripts: [] },
    ref: { instructions: [], commands: [], scripts: [] },
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const target of round % 2 === 0 ? (["ours", "ref"] as const) : (["ref", "ours"] as const)) {
      await admin.config("RESETSTAT");
      const phase = await redis.count(() => load(target, N));
      const counted = await commandsSinceReset();
      const instructions = phase.instructions - background.instructions * phase.seconds;
      const commands = counted.commands - background.commands * phase.seconds;
      const scripts = counted.scripts - background.scripts * phase.seconds;
      results[target].instructions.push(instructions / N);
      results[target].commands.push(commands / N);
      results[target].scripts.push(scripts / N);
      console.log(
        `round ${round + 1}  ${target.padEnd(4)}  ${fmt(instructions / N / 1000, 1)}k instructions, ` +
          `${fmt(commands / N, 1)} commands, ${fmt(scripts / N, 2)} scripts per lifecycle`,
      );
    }
  }
  admin.disconnect();

  const row = (target: Target, name: string) => {
    const r = results[target];
    return [
      name,
      `${fmt(median(r.instructions) / 1000, 1)}k`,
      fmt(median(r.commands), 1),
      fmt(median(r.scripts), 2),
    ];
  };
  console.log(`\nmedians of ${ROUNDS} rounds, per lifecycle, background taken off:\n`);
  console.log(
    table([
      ["server", "instructions", "commands", "scripts"],
      row("ours", "claudebench"),
      row("ref", "reference"),
    ]),
  );
  const ratio = median(results.ours.instructions) / median(results.ref.instructions);
  console.log(`\nours / reference: ${fmt(ratio, 2)}x the instructions in redis-server per lifecycle`);
}

main()
  .catch((err: unknown) => {
    console.error(`${SCRIPT}: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  })
  .finally(cleanup);
