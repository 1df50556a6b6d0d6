/**
 * Our TaskQueue (the in-process client library, no HTTP) against BullMQ, in this process,
 * on the same private redis-server, in the same run.
 *
 *   npm run bench:bullmq [-- --n 20000 --concurrency 10 --connections 2 --batch 1000 --rounds 3]
 *
 * Each side, per round, on an empty Redis (FLUSHALL before each side; loaded scripts stay):
 *   add      N jobs in batches of `--batch`: ours `TaskQueue.create` × batch concurrently on one
 *            auto-pipelining connection (one createTask script each, sent in one write), BullMQ
 *            `Queue.addBulk(batch)` (one addStandardJob/addPrioritizedJob script per job in one
 *            MULTI). Priorities 1..100 (i % 100 + 1) on ours and on "bullmq prio"; plain
 *            BullMQ jobs have no priority, so they go to its FIFO wait list (cheaper).
 *   process  `--concurrency` consumers until all N are completed: ours 10 async claimers
 *            spread over `--connections` connections (2; a BullMQ Worker opens two as well, the
 *            second for its blocking waits; see below), each claiming once and then looping
 *            completeAndClaim(no result, next 1): one script per job, as BullMQ, whose
 *            move-to-completed script also fetches the next job; "claudebench 2-step" loops
 *            claim(1) → complete instead (two scripts per job, what the code did before
 *            completeAndClaim). BullMQ: one Worker with concurrency 10 and a no-op processor
 *            (it keeps a second, blocking connection).
 * Defaults kept on both sides: BullMQ keeps completed jobs (removeOnComplete off), its
 * events stream capped at ~10,000, lock 30 s with renewal, stalled checks every 30 s; ours
 * keeps completed tasks (until retention) with their events on a stream capped at ~100,000
 * (the server's EVENT_STREAM_MAXLEN default), 30 s leases, the wait/run statistics and the
 * status indexes every transition maintains. Why two connections: Redis answers the commands
 * of one connection that arrive together in one go, so ten claimers on one connection move in
 * lockstep — redis-server runs ten scripts while this process waits, then this process handles
 * ten answers while redis-server waits. On two connections one half's scripts run while the
 * other half's answers are handled (process 8.7k → 10.4–11.0k jobs/s, docs/performance.md).
 * Reported: jobs/s for add, process and add+process
 * (their total time), with the CPU time of this process and of redis-server per job; the
 * target's verdict is the median of the per-round ratios ours / BullMQ (add+process).
 * `--instructions`: redis-server runs under valgrind's callgrind instead, and each side's
 * add+process is reported as instructions redis-server executed per job (stable to a few % where
 * times vary by ±20 % here; bench/callgrind.ts). Throughput under valgrind means nothing, so
 * then no verdict is given.
 * A benchmark, not a test: it asserts nothing.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue, Worker } from "bullmq";
import type { Redis } from "ioredis";
import type { Task } from "../src/contract/tasks.js";
import { TaskQueue } from "../src/domain/tasks/queue.js";
import { type EmbeddedRedis, startEmbeddedRedis } from "../src/storage/embedded-redis.js";
import { createKeys } from "../src/storage/keys.js";
import { connectRedis } from "../src/storage/redis.js";
import { CountedRedis } from "./callgrind.js";
import {
  benchFlags,
  type CpuUsage,
  cpuMeter,
  fmt,
  machineLine,
  median,
  onInterrupt,
  stopChild,
  table,
  verdict,
  waitForQuiet,
} from "./lib.js";

const SCRIPT = "bullmq-compare";
const TARGET = 1.0;
/** Same cap as the server's EVENT_STREAM_MAXLEN default. */
const EVENT_MAXLEN = 100_000;

const {
  n: N,
  concurrency: CONCURRENCY,
  connections: CONNECTIONS,
  batch: BATCH,
  rounds: ROUNDS,
  "wait-quiet": WAIT_QUIET_S,
  instructions: INSTRUCTIONS,
} = benchFlags("bench:bullmq", {
  n: { int: 20_000, help: "jobs per side and round" },
  concurrency: { int: 10, help: "claimers (ours) / Worker concurrency (BullMQ)" },
  connections: { int: 2, help: "Redis connections our claimers are spread over (a BullMQ Worker opens 2)" },
  batch: { int: 1000, help: "jobs added per batch (addBulk size / creates in flight)" },
  rounds: { int: 3, help: "rounds; the order of the sides alternates, the summary shows medians" },
  "wait-quiet": {
    seconds: 0,
    help: "before each measurement wait up to this many seconds for the machine to be nearly idle",
  },
  instructions: {
    on: false,
    help: "count redis-server's instructions per job under callgrind (needs valgrind) instead of timing",
  },
});

interface Phase {
  seconds: number;
  /** This process's CPU per job, µs. */
  selfUs: number;
  /** redis-server's CPU per job, µs. */
  redisUs: number | null;
}

interface SideResult {
  add: Phase;
  process: Phase;
  /** add + process. */
  totalJobsPerSec: number;
  /** Jobs completed more than once (or not at all) by the consumers. */
  anomalies: number;
  /** With --instructions: what redis-server executed per job, add and process together. */
  instructionsPerJob?: number;
}

const phase = (usage: CpuUsage, n: number): Phase => {
  const redisSec = usage.seconds[0];
  return {
    seconds: usage.wallSeconds,
    selfUs: (usage.selfSeconds * 1e6) / n,
    redisUs: redisSec === null || redisSec === undefined ? null : (redisSec * 1e6) / n,
  };
};

const priorityOf = (i: number) => (i % 100) + 1;

// ---------------------------------------------------------------------------- ours

async function runOurs(
  url: string,
  redisPid: number,
  round: number,
  n: number,
  twoStep: boolean,
): Promise<SideResult> {
  const connections = await Promise.all(
    Array.from({ length: CONNECTIONS }, () => connectRedis(url, "bench-ours")),
  );
  try {
    const queues = connections.map(
      (redis) => new TaskQueue(redis, createKeys(`bq${round}`), "bench", EVENT_MAXLEN),
    );
    // Claimer k uses connection k mod CONNECTIONS; adds go over the first, as BullMQ's one Queue.
    const queueFor = (k: number) => queues[k % queues.length] as TaskQueue;
    let meter = cpuMeter([redisPid]);
    for (let start = 0; start < n; start += BATCH) {
      const count = Math.min(BATCH, n - start);
      await Promise.all(
        Array.from({ length: count }, (_, k) =>
          queueFor(0).create({ text: `job ${start + k}`, priority: priorityOf(start + k), maxAttempts: 3 }),
        ),
      );
    }
    const add = phase(meter.stop(), n);

    meter = cpuMeter([redisPid]);
    const seen = new Set<string>();
    let anomalies = 0;
    const count = (task: Task) => {
      if (seen.has(task.id)) anomalies++;
      seen.add(task.id);
    };
    const claimer = async (k: number) => {
      const queue = queueFor(k);
      const workerId = `w-${k}`;
      let [task] = await queue.claim({ workerId, count: 1 });
      while (task) {
        if (twoStep) {
          await queue.complete(task.id, { workerId, token: task.leaseToken });
          count(task);
          [task] = await queue.claim({ workerId, count: 1 });
        } else {
          const { next } = await queue.completeAndClaim(
            task.id,
            { workerId, token: task.leaseToken },
            undefined,
            { count: 1 },
          );
          count(task);
          task = next[0];
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, (_, k) => claimer(k)));
    const processed = phase(meter.stop(), n);
    anomalies += n - seen.size;
    return { add, process: processed, totalJobsPerSec: n / (add.seconds + processed.seconds), anomalies };
  } finally {
    for (const redis of connections) redis.disconnect();
  }
}

// ---------------------------------------------------------------------------- BullMQ

async function runBull(
  port: number,
  redisPid: number,
  round: number,
  n: number,
  prioritized: boolean,
): Promise<SideResult> {
  const connection = { host: "127.0.0.1", port };
  const name = `bench-${round}-${prioritized ? "prio" : "fifo"}`;
  const queue = new Queue(name, { connection });
  const seen = new Set<string>();
  let anomalies = 0;
  let completed = 0;
  let allDone: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    allDone = resolve;
  });
  const worker = new Worker(name, async () => undefined, {
    connection,
    concurrency: CONCURRENCY,
    autorun: false,
  });
  worker.on("completed", (job) => {
    const id = job.id as string;
    if (seen.has(id)) anomalies++;
    seen.add(id);
    if (++completed === n) allDone();
  });
  worker.on("error", (err) => console.error(`${SCRIPT}: BullMQ worker error: ${err.message}`));
  try {
    await queue.waitUntilReady();
    await worker.waitUntilReady();
    let meter = cpuMeter([redisPid]);
    for (let start = 0; start < n; start += BATCH) {
      const count = Math.min(BATCH, n - start);
      await queue.addBulk(
        Array.from({ length: count }, (_, k) => ({
          name: "job",
          data: { text: `job ${start + k}` },
          ...(prioritized ? { opts: { priority: priorityOf(start + k) } } : {}),
        })),
      );
    }
    const add = phase(meter.stop(), n);

    meter = cpuMeter([redisPid]);
    void worker.run();
    await finished;
    const processed = phase(meter.stop(), n);
    anomalies += n - seen.size;
    return { add, process: processed, totalJobsPerSec: n / (add.seconds + processed.seconds), anomalies };
  } finally {
    await worker.close();
    await queue.close();
  }
}

// ---------------------------------------------------------------------------- main

let dataDir: string | null = null;
let embedded: EmbeddedRedis | null = null;
let counted: CountedRedis | null = null;
let admin: Redis | null = null;
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    admin?.disconnect();
    await embedded?.stop();
    if (counted) await stopChild(counted.child);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  })();
  return cleaning;
}
onInterrupt(SCRIPT, cleanup);

type SideName = "claudebench" | "claudebench 2-step" | "bullmq" | "bullmq prio";
// Ours next to plain BullMQ in every round (the order reverses each round), so each per-round ratio
// compares two runs made seconds apart.
const SIDES: SideName[] = ["claudebench", "bullmq", "bullmq prio", "claudebench 2-step"];

async function main(): Promise<number> {
  console.log(machineLine(SCRIPT));
  console.log(
    `  ${N} jobs per side and round, added in batches of ${BATCH}, processed with concurrency ${CONCURRENCY}` +
      ` (ours over ${CONNECTIONS} connection${CONNECTIONS === 1 ? "" : "s"}); ${ROUNDS} rounds\n`,
  );
  dataDir = mkdtempSync(join(tmpdir(), "cb-bench-bullmq-"));
  let redisPid: number;
  let url: string;
  let port: number;
  if (INSTRUCTIONS) {
    counted = await CountedRedis.start(dataDir);
    ({ pid: redisPid, url, port } = counted);
  } else {
    // BullMQ is handed a bare port, like the counted redis-server: no password on this one.
    embedded = await startEmbeddedRedis({
      dataDir: join(dataDir, "redis"),
      appendOnly: false,
      requirePassword: false,
    });
    ({ pid: redisPid, url, port } = embedded);
  }
  admin = await connectRedis(url, "bench-admin");

  const results = new Map<SideName, SideResult[]>(SIDES.map((s) => [s, []]));
  const runSide = (side: SideName, round: number, n: number) =>
    side.startsWith("claudebench")
      ? runOurs(url, redisPid, round, n, side === "claudebench 2-step")
      : runBull(port, redisPid, round, n, side === "bullmq prio");
  const run = async (side: SideName, round: number, n: number): Promise<SideResult> => {
    if (!counted) return runSide(side, round, n);
    let result: SideResult | undefined;
    const { instructions } = await counted.count(async () => {
      result = await runSide(side, round, n);
    });
    return { ...(result as SideResult), instructionsPerJob: instructions / n };
  };

  // One small unmeasured pass per side first: scripts loaded, code warm.
  for (const side of SIDES) {
    await admin.flushall();
    await run(side, 99, Math.min(N, 2000));
  }
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? SIDES : [...SIDES].reverse();
    for (const side of order) {
      await admin.flushall();
      if (WAIT_QUIET_S > 0) await waitForQuiet(WAIT_QUIET_S * 1000);
      const r = await run(side, round, N);
      results.get(side)?.push(r);
      console.log(
        `round ${round + 1}  ${side.padEnd(18)} add ${fmt(N / r.add.seconds, 0).padStart(6)} jobs/s` +
          `  process ${fmt(N / r.process.seconds, 0).padStart(6)} jobs/s  add+process ${fmt(r.totalJobsPerSec, 0).padStart(6)} jobs/s` +
          `  (CPU µs/job, this process / redis: add ${fmt(r.add.selfUs, 0)} / ${fmt(r.add.redisUs, 0)},` +
          ` process ${fmt(r.process.selfUs, 0)} / ${fmt(r.process.redisUs, 0)})` +
          (r.instructionsPerJob
            ? `  ${fmt(r.instructionsPerJob / 1000, 1)}k instructions/job in redis`
            : "") +
          (r.anomalies ? `  ${r.anomalies} ANOMALIES` : ""),
      );
    }
  }

  if (INSTRUCTIONS) return reportInstructions(results);
  const summary = (side: SideName) => {
    const rs = results.get(side) ?? [];
    const med = (f: (r: SideResult) => number | null) => {
      const xs = rs.map(f).filter((x): x is number => x !== null);
      return xs.length ? median(xs) : null;
    };
    return {
      add: med((r) => N / r.add.seconds) as number,
      process: med((r) => N / r.process.seconds) as number,
      total: med((r) => r.totalJobsPerSec) as number,
      addSelf: med((r) => r.add.selfUs),
      addRedis: med((r) => r.add.redisUs),
      procSelf: med((r) => r.process.selfUs),
      procRedis: med((r) => r.process.redisUs),
      anomalies: rs.reduce((s, r) => s + r.anomalies, 0),
    };
  };
  const s = new Map(SIDES.map((side) => [side, summary(side)]));
  console.log(
    `\nmedians of ${ROUNDS} rounds, ${N} jobs each; CPU in µs per job (this process / redis-server):\n`,
  );
  console.log(
    table([
      ["side", "add jobs/s", "process jobs/s", "add+process jobs/s", "add CPU", "process CPU", "anomalies"],
      ...SIDES.map((side) => {
        const x = s.get(side) as ReturnType<typeof summary>;
        return [
          side,
          fmt(x.add, 0),
          fmt(x.process, 0),
          fmt(x.total, 0),
          `${fmt(x.addSelf, 0)} / ${fmt(x.addRedis, 0)}`,
          `${fmt(x.procSelf, 0)} / ${fmt(x.procRedis, 0)}`,
          String(x.anomalies),
        ];
      }),
    ]),
  );
  const ours = s.get("claudebench") as ReturnType<typeof summary>;
  // add+process of ours over `side`, round by round: the machine's speed drifts between rounds (by
  // ±30 % on a shared VM), so the verdict takes the median of these paired ratios.
  const perRound = (side: SideName) =>
    (results.get("claudebench") ?? []).map(
      (r, i) => r.totalJobsPerSec / ((results.get(side) ?? [])[i]?.totalJobsPerSec ?? Number.NaN),
    );
  console.log("");
  const ratioRows = [
    ["ours / ...", "add", "process", "add+process", "per round (add+process)", "median per round"],
  ];
  for (const side of ["bullmq", "bullmq prio"] as const) {
    const x = s.get(side) as ReturnType<typeof summary>;
    const ratios = perRound(side);
    ratioRows.push([
      side,
      `${fmt(ours.add / x.add, 2)}x`,
      `${fmt(ours.process / x.process, 2)}x`,
      `${fmt(ours.total / x.total, 2)}x`,
      ratios.map((v) => fmt(v, 2)).join(" "),
      `${fmt(median(ratios), 2)}x`,
    ]);
  }
  console.log(table(ratioRows));
  const twoStep = s.get("claudebench 2-step") as ReturnType<typeof summary>;
  console.log(
    `\ncompleteAndClaim (one script per job) vs claim → complete (two): process ${fmt(ours.process / twoStep.process, 2)}x,` +
      ` add+process ${fmt(ours.total / twoStep.total, 2)}x`,
  );
  const ratio = median(perRound("bullmq"));
  console.log(
    `\ntarget: add+process >= ${TARGET}x BullMQ (default FIFO jobs), median of per-round ratios: ${verdict(ratio >= TARGET)}` +
      ` (${fmt(ratio, 2)}x; against prioritized BullMQ jobs ${fmt(median(perRound("bullmq prio")), 2)}x)`,
  );
  await cleanup();
  const anomalies = [...s.values()].reduce((sum, x) => sum + x.anomalies, 0);
  return anomalies > 0 ? 1 : 0;
}

/** --instructions: the sides' instructions per job in redis-server (add and process together). */
async function reportInstructions(results: Map<SideName, SideResult[]>): Promise<number> {
  const perJob = (side: SideName) => median((results.get(side) ?? []).map((r) => r.instructionsPerJob ?? 0));
  console.log(`\nmedians of ${ROUNDS} rounds, ${N} jobs each; redis-server under callgrind:\n`);
  console.log(
    table([
      ["side", "instructions per job (add+process)", "ours / side"],
      ...SIDES.map((side) => [
        side,
        `${fmt(perJob(side) / 1000, 1)}k`,
        `${fmt(perJob("claudebench") / perJob(side), 2)}x`,
      ]),
    ]),
  );
  console.log("\n(no throughput verdict: under valgrind redis-server is ~30x slower)");
  const anomalies = [...results.values()].flat().reduce((sum, r) => sum + r.anomalies, 0);
  await cleanup();
  return anomalies > 0 ? 1 : 0;
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
