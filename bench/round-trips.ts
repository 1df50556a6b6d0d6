/**
 * Redis round trips per task lifecycle (create → claim → complete) through our server over
 * HTTP, one lifecycle at a time (c=1, so no two commands share a write), and the background
 * commands of the server's own loops.
 *
 *   npm run bench:roundtrips [-- --n 2000 --idle 5]
 *
 * Two independent counts over the same measured phase:
 *   - `INFO commandstats` after `CONFIG RESETSTAT`: calls per command. It counts commands
 *     sent by clients AND commands run inside Lua scripts alike, so it is the Redis work per
 *     lifecycle, not the round trips;
 *   - MONITOR: every command with where it came from (a client address, or "lua" for a call
 *     inside a script). Client commands are the round trips (at c=1 nothing is pipelined);
 *     each EVALSHA is named by its script's SHA1 (createTask, claimTasks, completeTask, the
 *     maintenance scripts, the lock scripts), and each client connection by its CLIENT LIST name.
 * A third count, Redis' own `total_reads_processed` (INFO stats), gives the network round
 * trips (a pipeline arrives in one read) whatever the commands were.
 * Background: an idle phase (`--idle` seconds, no load) gives the per-second bookkeeping of the
 * server's loops (queue maintenance under its lock or leadership, cluster membership, the Redis
 * request consumer's XREADGROUP BLOCK); commands the server also sends while idle are left out
 * of the hot path at their idle rate.
 * Target: ≤ 3 client round trips per lifecycle on the hot path, batched bookkeeping apart
 * (BATCHED_BOOKKEEPING). Asserts nothing.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { type EmbeddedRedis, startEmbeddedRedis } from "../src/storage/embedded-redis.js";
import { coordinationLuaScripts } from "../src/storage/scripts.js";
import {
  answersJsonRpc,
  benchFlags,
  CONFIG_FLAG,
  children,
  cpuMeter,
  ensureBuilt,
  fmt,
  freePort,
  healthyWithDatabase,
  machineLine,
  median,
  onInterrupt,
  parseCommandStats,
  parseInfo,
  ROOT,
  runNode,
  SHARED_BENCH,
  serveArgs,
  serveConfig,
  startChild,
  stopChild,
  table,
  verdict,
} from "./lib.js";

const SCRIPT = "round-trips";
const KEY_PREFIX = "benchR";
const TARGET = 3;
/**
 * Scripts that write batched bookkeeping, not a lifecycle's transition: the audit trail's flush
 * (every 200 ms or 500 records) and the breaker's outcome batches. The target allows them ("≤ 3
 * on the hot path plus bookkeeping that is batched"); they are counted and shown apart.
 */
const BATCHED_BOOKKEEPING = new Set(["evalsha appendAudit", "evalsha breakerRecord"]);
/** The history store's connections (its own process, reading the streams in batches): off the request path. */
const STORE_CONNECTION = /:(store|persist|persist-audit)$/;

const {
  n: N,
  idle: IDLE_S,
  config,
} = benchFlags("bench:roundtrips", {
  n: { int: 2000, help: "lifecycles (create → claim → complete) at c=1" },
  idle: { int: 5, help: "seconds of an idle phase that measures the background loops" },
  config: CONFIG_FLAG,
});
const CONFIG = serveConfig("bench:roundtrips", config);

/** SHA1 → script name, for every script the server may send (EVALSHA of the text's SHA1). */
function scriptNames(): Map<string, string> {
  const sha1 = (text: string) => createHash("sha1").update(text).digest("hex");
  const names = new Map<string, string>();
  for (const [name, script] of coordinationLuaScripts()) names.set(script.sha, name);
  // The other scripts are sent as their file's text (coordination scripts above carry the prelude).
  const dir = join(ROOT, "src", "storage", "lua");
  for (const file of readdirSync(dir).filter((f) => /-\d\.lua$/.test(f))) {
    names.set(sha1(readFileSync(join(dir, file), "utf8")), file.replace(/-\d\.lua$/, ""));
  }
  return names;
}

interface Tally {
  /** "<connection>\t<command or script>" → count, for commands sent by clients. */
  client: Map<string, number>;
  /** command → count, for calls made inside scripts. */
  lua: Map<string, number>;
  /** INFO commandstats over the same phase. */
  stats: Map<string, { calls: number; usec: number }>;
  /** Read events Redis processed (INFO stats total_reads_processed): network round trips. */
  reads: number;
  seconds: number;
}

const bump = (map: Map<string, number>, key: string, by = 1) => map.set(key, (map.get(key) ?? 0) + by);

const readsProcessed = async (redis: Redis) =>
  Number(parseInfo(String(await redis.info("stats"))).get("total_reads_processed") ?? 0);

/** Runs `during` while MONITOR records every command, then tallies them. */
async function monitored(
  url: string,
  names: Map<string, string>,
  during: () => Promise<void>,
  /** Which client connections to count, by CLIENT LIST name ('' when unnamed); all by default. */
  count: (name: string) => boolean = () => true,
): Promise<Tally> {
  const admin = new Redis(url, { connectionName: "bench-admin" });
  const connections = new Map<string, string>();
  for (const line of String(await admin.client("LIST")).split("\n")) {
    const addr = /\baddr=(\S+)/.exec(line)?.[1];
    const name = /\bname=(\S*)/.exec(line)?.[1];
    if (addr) connections.set(addr, name ?? "");
  }
  const tally: Tally = { client: new Map(), lua: new Map(), stats: new Map(), reads: 0, seconds: 0 };
  const monitor = await admin.monitor(); // a second connection, in monitor mode
  const sha1 = (text: string) => createHash("sha1").update(text).digest("hex");
  monitor.on("monitor", (_time: string, args: string[], source: string) => {
    const command = String(args[0]).toLowerCase();
    if (source === "lua") {
      bump(tally.lua, command);
      return;
    }
    const name = connections.get(source) ?? "";
    if (name === "bench-admin" || !count(name)) return;
    const who = name || source;
    const sha = command === "eval" ? sha1(String(args[1])) : String(args[1]);
    const what =
      command === "evalsha" || command === "eval" ? `${command} ${names.get(sha) ?? sha}` : command;
    bump(tally.client, `${who}\t${what}`);
  });
  await admin.config("RESETSTAT");
  const readsBefore = await readsProcessed(admin);
  const started = performance.now();
  await during();
  tally.seconds = (performance.now() - started) / 1000;
  // This script's own commands in between (INFO, CONFIG) are two reads.
  tally.reads = (await readsProcessed(admin)) - readsBefore - 1;
  await new Promise((r) => setTimeout(r, 100)); // the last MONITOR lines
  monitor.disconnect();
  tally.stats = parseCommandStats(String(await admin.info("commandstats")));
  admin.disconnect();
  return tally;
}

let dataDir: string | null = null;
let embedded: EmbeddedRedis | null = null;
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all([...children].map(stopChild));
    await embedded?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  })();
  return cleaning;
}
onInterrupt(SCRIPT, cleanup);

async function main(): Promise<void> {
  ensureBuilt();
  console.log(machineLine(SCRIPT));
  console.log(
    `  ${N} lifecycles (create → claim → complete) over HTTP at c=1, ours (${CONFIG}) then the reference server; idle phase ${IDLE_S} s\n`,
  );
  dataDir = mkdtempSync(join(tmpdir(), "cb-bench-rt-"));
  // The reference server takes a bare port: no password on this throwaway redis-server.
  embedded = await startEmbeddedRedis({
    dataDir: join(dataDir, "redis"),
    appendOnly: false,
    requirePassword: false,
  });
  const port = await freePort();
  await startChild("claudebench", serveArgs(port, embedded.url, KEY_PREFIX, CONFIG, join(dataDir, "store")), {
    ready: healthyWithDatabase(port),
    timeoutMs: 120_000,
  });
  const refPort = await freePort();
  await startChild(
    "reference",
    [join(SHARED_BENCH, "ref-min-server.js"), String(refPort), String(embedded.port)],
    {
      env: { ...process.env, NODE_PATH: join(ROOT, "node_modules") },
      ready: answersJsonRpc(refPort),
    },
  );
  const load = async (n: number, target: "ours" | "ref") => {
    const { stdout } = await runNode([
      join(SHARED_BENCH, "jsonrpc-load.js"),
      "--url",
      `http://127.0.0.1:${target === "ours" ? port : refPort}/rpc`,
      "--mode",
      "cycle",
      "--n",
      String(n),
      "--c",
      "1",
      "--profile",
      target === "ours" ? "claudebench" : "minimal",
    ]);
    const result = JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as { ok: number };
    if (result.ok !== n) console.log(`WARNING: ${target}: ${result.ok} of ${n} lifecycles succeeded`);
  };
  // Scripts loaded (no NOSCRIPT → EVAL fallback inside the measured phases), code warm.
  await load(200, "ours");
  await load(200, "ref");
  const names = scriptNames();

  const idle = await monitored(embedded.url, names, () => new Promise((r) => setTimeout(r, IDLE_S * 1000)));
  const busy = await monitored(embedded.url, names, () => load(N, "ours"));
  // The reference's connection has no name; ours (named) keep up their background meanwhile.
  const ref = await monitored(
    embedded.url,
    names,
    () => load(N, "ref"),
    (name) => name === "",
  );

  // Without MONITOR (which slows every command, and ours run 4.5x as many inside scripts):
  // the scripts' own time (commandstats usec of EVALSHA) and redis-server's CPU per lifecycle,
  // two rounds each, alternating.
  const redisPid = embedded.pid;
  const timing = {
    ours: [] as { script: number; cpu: number }[],
    ref: [] as { script: number; cpu: number }[],
  };
  const admin = new Redis(embedded.url, { connectionName: "bench-admin" });
  for (const target of ["ours", "ref", "ref", "ours"] as const) {
    await admin.config("RESETSTAT");
    const meter = cpuMeter([redisPid]);
    await load(N, target);
    const usage = meter.stop();
    const stats = parseCommandStats(String(await admin.info("commandstats")));
    const usec = (stats.get("evalsha")?.usec ?? 0) + (stats.get("eval")?.usec ?? 0);
    timing[target].push({ script: usec / N, cpu: ((usage.seconds[0] ?? 0) * 1e6) / N });
  }
  admin.disconnect();
  const timed = (side: "ours" | "ref") => ({
    script: median(timing[side].map((t) => t.script)),
    cpu: median(timing[side].map((t) => t.cpu)),
  });

  // ---------------------------------------------------------------- client commands (round trips)
  // A command the server also sends while idle is background (its loops); during the load
  // its idle rate × the load's duration is taken off, the rest is the hot path.
  const idleRate = (key: string) => (idle.client.get(key) ?? 0) / idle.seconds;
  const rows: string[][] = [
    ["connection", "command (script)", "during load", "idle, per s", "hot path", "per lifecycle"],
  ];
  let hot = 0;
  let batched = 0;
  let stored = 0;
  const keys = new Set([...busy.client.keys(), ...idle.client.keys()]);
  for (const key of [...keys].sort()) {
    const [who = "", what = ""] = key.split("\t");
    const count = busy.client.get(key) ?? 0;
    // Background loops tick about once a second: allow for one extra tick (and 10 %) before a
    // surplus of a background command counts as hot-path traffic.
    const expected = idleRate(key) * busy.seconds;
    const surplus = count - expected;
    let hotCount = idleRate(key) === 0 ? count : surplus > expected * 0.1 + idleRate(key) + 1 ? surplus : 0;
    if (BATCHED_BOOKKEEPING.has(what)) {
      batched += hotCount;
      hotCount = 0;
    } else if (STORE_CONNECTION.test(who)) {
      stored += hotCount;
      hotCount = 0;
    }
    hot += hotCount;
    rows.push([who, what, String(count), fmt(idleRate(key), 2), fmt(hotCount, 0), fmt(hotCount / N, 3)]);
  }
  console.log(
    `client commands during ${N} lifecycles (${fmt(busy.seconds, 1)} s) and while idle (${fmt(idle.seconds, 1)} s):\n`,
  );
  console.log(table(rows));

  // ---------------------------------------------------------------- commandstats
  const statRows: string[][] = [
    [
      "command",
      "calls (commandstats)",
      "per lifecycle",
      "from clients (MONITOR)",
      "inside scripts (MONITOR)",
    ],
  ];
  const fromClients = new Map<string, number>();
  for (const [key, count] of busy.client)
    bump(fromClients, (key.split("\t")[1] ?? "").split(" ")[0] ?? "", count);
  let totalCalls = 0;
  const ignored = new Set(["config", "info", "client", "monitor"]); // this script's own
  for (const [command, { calls }] of [...busy.stats].sort((a, b) => b[1].calls - a[1].calls)) {
    if (ignored.has(command.split("|")[0] ?? command)) continue;
    totalCalls += calls;
    statRows.push([
      command,
      String(calls),
      fmt(calls / N, 2),
      String(fromClients.get(command) ?? 0),
      String(busy.lua.get(command) ?? 0),
    ]);
  }
  statRows.push(["total", String(totalCalls), fmt(totalCalls / N, 2), "", ""]);
  console.log("\nRedis commands per lifecycle, all of them (INFO commandstats, background included):\n");
  console.log(table(statRows));

  // ---------------------------------------------------------------- background
  const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const idleReadsPerSec = idle.reads / idle.seconds;
  console.log(
    `\nbackground while idle, per second: ${fmt(sum(idle.client) / idle.seconds, 2)} client commands in ` +
      `${fmt(idleReadsPerSec, 2)} round trips (Redis read events), ${fmt(sum(idle.lua) / idle.seconds, 1)} calls inside scripts:`,
  );
  for (const [key, count] of [...idle.client].sort()) {
    console.log(`  ${key.replace("\t", "  ").padEnd(60)} ${fmt(count / idle.seconds, 2)}/s`);
  }
  const hotPer = hot / N;
  const readsPer = (busy.reads - idleReadsPerSec * busy.seconds) / N;
  const luaPer = (sum(busy.lua) - (sum(idle.lua) / idle.seconds) * busy.seconds) / N;
  console.log(
    `\nhot path per lifecycle: ${fmt(hotPer, 3)} client commands (MONITOR, background taken off); ` +
      `${fmt(readsPer, 3)} Redis read events (round trips; background taken off); ` +
      `${fmt(luaPer, 1)} Redis calls inside scripts; batched bookkeeping (audit and breaker flushes) ` +
      `${fmt(batched / N, 3)} client commands per lifecycle besides; the history store's process ` +
      `${fmt(stored / N, 3)} per lifecycle (reading the streams, off the request path)`,
  );

  // ---------------------------------------------------------------- against the reference
  const refLuaPer = (sum(ref.lua) - (sum(idle.lua) / idle.seconds) * ref.seconds) / N;
  const refReadsPer = (ref.reads - idleReadsPerSec * ref.seconds) / N;
  const refCommands = sum(ref.client) / N;
  const o = timed("ours");
  const r = timed("ref");
  console.log(
    `\nper lifecycle, against the reference server (same Redis, same load, c=1; background taken off; ` +
      `script time and redis-server CPU measured without MONITOR, median of 2 runs each):\n`,
  );
  console.log(
    table([
      [
        "server",
        "client commands",
        "Redis read events",
        "calls inside scripts",
        "script time in Redis µs",
        "redis-server CPU µs",
      ],
      ["claudebench", fmt(hotPer, 2), fmt(readsPer, 2), fmt(luaPer, 1), fmt(o.script, 0), fmt(o.cpu, 0)],
      [
        "reference",
        fmt(refCommands, 2),
        fmt(refReadsPer, 2),
        fmt(refLuaPer, 1),
        fmt(r.script, 0),
        fmt(r.cpu, 0),
      ],
      [
        "ours/ref",
        `${fmt(hotPer / refCommands, 2)}x`,
        `${fmt(readsPer / refReadsPer, 2)}x`,
        `${fmt(luaPer / refLuaPer, 2)}x`,
        `${fmt(o.script / r.script, 2)}x`,
        `${fmt(o.cpu / r.cpu, 2)}x`,
      ],
    ]),
  );
  console.log(
    // to 2 decimals: a background tick that fell inside the load phase is not a round trip of the hot path
    `\ntarget: <= ${TARGET} round trips per lifecycle on the hot path: ${verdict(Math.round(hotPer * 100) / 100 <= TARGET)} (${fmt(hotPer, 3)})`,
  );
  await cleanup();
}

main().catch(async (err) => {
  console.error(`${SCRIPT}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  await cleanup();
  process.exitCode = 1;
});
