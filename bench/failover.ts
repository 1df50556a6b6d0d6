/**
 * Leader failover after kill -9, and what leadership costs while nothing happens.
 *
 *   npm run bench:failover [-- --servers 3 --runs 8 --idle 10]
 *
 * `--servers` serve processes on one private redis-server, with the server's default settings
 * (set LEADER_TERM_MS, MAINTENANCE_INTERVAL_MS... in the environment to try others). First an
 * idle phase: per server, the Redis round trips (Redis' read events) and script calls (EVALSHA)
 * per second, and its CPU. Then each run waits until all agree on a leader, pauses a random
 * 0–2 s (so the kill falls anywhere in the leader's renewal cycle), kills the leader with
 * SIGKILL and polls every survivor's `system.health` every 20 ms until one reports leading at
 * a higher epoch: that is the failover time (the poll adds up to ~20 ms). The killed server is
 * started again before the next run. Asserts nothing; docs/cluster.md keeps the figures.
 * The servers share one Redis, so `--no-db` is also their default configuration (a shared
 * REDIS_URL without DATABASE_URL has no database: docs/cluster.md).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { type EmbeddedRedis, startEmbeddedRedis } from "../src/storage/embedded-redis.js";
import {
  answersJsonRpc,
  benchFlags,
  type Child,
  children,
  cpuMeter,
  ensureBuilt,
  fmt,
  freePort,
  machineLine,
  median,
  onInterrupt,
  parseCommandStats,
  parseInfo,
  rpcOnce,
  serveArgs,
  startChild,
  stopChild,
  table,
} from "./lib.js";

const SCRIPT = "bench:failover";
const KEY_PREFIX = "cbfail";
const POLL_MS = 20;

const {
  servers: SERVERS,
  runs: RUNS,
  idle: IDLE_S,
} = benchFlags(SCRIPT, {
  servers: { int: 3, help: "serve processes in the cluster (at least 2)" },
  runs: { int: 8, help: "leaders killed, one after another" },
  idle: { int: 10, help: "seconds of the idle phase that measures the cost of the loops" },
});

interface Server {
  id: string;
  port: number;
  child: Child;
}

interface Leadership {
  leader: boolean;
  leaderId: string | null;
  epoch: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function leadership(server: Server): Promise<Leadership | null> {
  const answer = (await rpcOnce(server.port, "system.health")) as { result?: { cluster: Leadership } } | null;
  return answer?.result?.cluster ?? null;
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

async function start(id: string, redisUrl: string): Promise<Server> {
  const port = await freePort();
  const child = await startChild(id, [...serveArgs(port, redisUrl, KEY_PREFIX), "--instance-id", id], {
    ready: answersJsonRpc(port),
    timeoutMs: 60_000,
  });
  return { id, port, child };
}

/** Waits until every server names the same leader, and returns it with its epoch. */
async function agreedLeader(servers: Server[]): Promise<{ leader: Server; epoch: number }> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const views = await Promise.all(servers.map(leadership));
    const first = views[0];
    const leader = servers.find((s) => s.id === first?.leaderId);
    if (leader && first && views.every((v) => v?.leaderId === first.leaderId && v.epoch === first.epoch))
      return { leader, epoch: first.epoch };
    if (Date.now() > deadline) throw new Error(`no agreed leader within 60 s: ${JSON.stringify(views)}`);
    await sleep(100);
  }
}

async function idlePhase(servers: Server[], redisUrl: string): Promise<string> {
  const admin = new Redis(redisUrl);
  const stats = async () => {
    const info = parseInfo(String(await admin.info("stats")));
    const evalsha = parseCommandStats(String(await admin.info("commandstats"))).get("evalsha")?.calls ?? 0;
    return { reads: Number(info.get("total_reads_processed") ?? 0), evalsha };
  };
  const before = await stats();
  const cpu = cpuMeter(servers.map((s) => s.child.pid));
  await sleep(IDLE_S * 1000);
  const usage = cpu.stop();
  const after = await stats();
  await admin.quit();
  const perServerPerSecond = (n: number) => fmt(n / usage.wallSeconds / servers.length, 2);
  const cpuPct = usage.seconds.map((s) =>
    s === null ? "n/a" : `${fmt((s / usage.wallSeconds) * 100, 2)} %`,
  );
  // this script's own INFO calls between the two reads are two round trips
  return (
    `idle ${fmt(usage.wallSeconds, 1)} s, per server: ` +
    `${perServerPerSecond(after.reads - before.reads - 2)} Redis round trips/s, ` +
    `${perServerPerSecond(after.evalsha - before.evalsha)} EVALSHA/s, ` +
    `CPU ${cpuPct.join(" / ")} of a core`
  );
}

async function main(): Promise<void> {
  if (SERVERS < 2) throw new Error("--servers must be at least 2");
  ensureBuilt();
  console.log(machineLine(SCRIPT));
  const setting = (name: string) => `${name}=${process.env[name] ?? "default"}`;
  console.log(
    `  ${SERVERS} servers, ${RUNS} kill -9 of the leader; ${["LEADER_TERM_MS", "MAINTENANCE_INTERVAL_MS"].map(setting).join(" ")}\n`,
  );
  dataDir = mkdtempSync(join(tmpdir(), "cb-bench-failover-"));
  embedded = await startEmbeddedRedis({ dataDir: join(dataDir, "redis"), appendOnly: false });
  const redisUrl = embedded.url;
  const servers = await Promise.all(
    Array.from({ length: SERVERS }, (_, i) => start(`srv-${i + 1}`, redisUrl)),
  );
  await agreedLeader(servers);
  console.log(await idlePhase(servers, redisUrl));

  const rows = [["run", "killed", "epoch", "new leader", "epoch", "failover ms"]];
  const times: number[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const { leader, epoch } = await agreedLeader(servers);
    await sleep(Math.random() * 2000);
    const current = await leadership(leader);
    if (!current?.leader || current.epoch !== epoch) {
      run--; // the leadership moved during the pause: measure again
      continue;
    }
    const exited = new Promise((r) => leader.child.child.once("exit", r));
    leader.child.child.kill("SIGKILL");
    const killedAt = performance.now();
    const survivors = servers.filter((s) => s !== leader);
    let elected: { server: Server; view: Leadership } | null = null;
    while (!elected) {
      const polled = performance.now();
      const views = await Promise.all(survivors.map(leadership));
      const i = views.findIndex((v) => v?.leader && v.epoch > epoch);
      if (i >= 0) elected = { server: survivors[i] as Server, view: views[i] as Leadership };
      else await sleep(Math.max(0, POLL_MS - (performance.now() - polled)));
      if (performance.now() - killedAt > 60_000) throw new Error("no new leader within 60 s");
    }
    const ms = performance.now() - killedAt;
    times.push(ms);
    rows.push([
      String(run),
      leader.id,
      String(epoch),
      elected.server.id,
      String(elected.view.epoch),
      fmt(ms, 0),
    ]);
    await exited;
    await stopChild(leader.child.child);
    servers[servers.indexOf(leader)] = await start(leader.id, redisUrl);
  }
  console.log(`\n${table(rows)}`);
  const sorted = [...times].sort((a, b) => a - b);
  console.log(
    `\nfailover after kill -9 of the leader: min ${fmt(sorted[0], 0)} ms, median ${fmt(median(times), 0)} ms, ` +
      `max ${fmt(sorted.at(-1), 0)} ms over ${RUNS} runs`,
  );
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(cleanup);
