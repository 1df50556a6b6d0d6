/**
 * Claim latency against queue depth, and Redis memory per pending task.
 *
 *   npm run bench:depth [-- --small 1000 --large 1000000 --claims 3000 --batch 100 --fill-batch 5000]
 *
 * On a private redis-server, in this process, through TaskQueue (the client library without
 * HTTP): one queue filled with `--small` pending tasks and another with `--large` (priorities
 * 0..100 at random, as createTask scripts on pipelines of `--fill-batch`, with the arguments
 * TaskQueue.create sends, checked against it first). Then `--claims` claims on each, in batches of `--batch`
 * alternating between the two queues: each claim is timed alone (one in flight), and after each
 * batch its tasks are completed and as many new ones created (not timed), so that the depth
 * stays put. Reported: p50/p99/mean claim latency seen by the client, the claim script's own
 * time inside Redis (INFO commandstats, evalsha usec per call over the claim batches), their
 * ratios large/small (target ≤ 1.5), and memory per pending task: the growth of used_memory
 * while the large queue was filled, divided by its size, with and without the event stream
 * (capped at ~100,000 entries, the server's default, so its share shrinks as the queue grows).
 * Asserts nothing.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { taskFromJson } from "../src/domain/tasks/model.js";
import { TaskQueue } from "../src/domain/tasks/queue.js";
import { type EmbeddedRedis, startEmbeddedRedis } from "../src/storage/embedded-redis.js";
import { createKeys } from "../src/storage/keys.js";
import { connectRedis } from "../src/storage/redis.js";
import {
  benchFlags,
  fmt,
  machineLine,
  onInterrupt,
  parseCommandStats,
  parseInfo,
  percentile,
  table,
  verdict,
} from "./lib.js";

const SCRIPT = "claim-depth";
const TARGET = 1.5;
const EVENT_MAXLEN = 100_000;

const {
  small: SMALL,
  large: LARGE,
  claims: CLAIMS,
  batch: BATCH,
  "fill-batch": FILL_BATCH,
} = benchFlags("bench:depth", {
  small: { int: 1000, help: "the small queue's depth (pending tasks)" },
  large: { int: 1_000_000, help: "the large queue's depth (pending tasks)" },
  claims: { int: 3000, help: "timed claims per queue" },
  batch: {
    int: 100,
    help: "claims per batch (the queues alternate per batch; the depth is restored after each)",
  },
  "fill-batch": { int: 5000, help: "creates sent at once while filling" },
});

let seq = 0;
const randomPriority = () => Math.floor(Math.random() * 101);
const newTask = () => ({ text: `depth task ${seq++}`, priority: randomPriority(), maxAttempts: 3 });

/**
 * The ARGV `TaskQueue.create` sends for a plain task (no description, channel, delay, ttl,
 * idempotency key, requirements or metadata), so that the fill can send createTask scripts
 * on raw pipelines, without a promise and a parsed Task per call. `checkFillArgs` makes sure
 * it still matches what TaskQueue.create writes.
 */
const createArgs = (queue: TaskQueue, t: { text: string; priority: number; maxAttempts: number }) => [
  t.text,
  t.priority,
  "",
  "",
  t.maxAttempts,
  0,
  0,
  "",
  queue.settings.idempotencyTtlSec,
  queue.settings.maxQueued,
  "",
];

/** One task through TaskQueue.create and one through the raw script: same fields, or stop. */
async function checkFillArgs(queue: TaskQueue, redis: Redis): Promise<void> {
  const input = { text: "check", priority: 7, maxAttempts: 3 };
  const { task: viaApi } = await queue.create(input);
  const pipeline = redis.pipeline();
  queue.scripts.queue(pipeline, "createTask", queue.q.seq, createArgs(queue, input));
  const [[err, reply]] = (await queue.scripts.exec(pipeline)) as [[Error | null, [string, string]]];
  if (err) throw err;
  const raw = taskFromJson(reply[1]);
  const shape = (t: Record<string, unknown>) =>
    JSON.stringify(
      Object.entries(t)
        .filter(([k]) => !["id", "createdAt", "updatedAt"].includes(k))
        .sort(),
    );
  if (
    shape(viaApi as unknown as Record<string, unknown>) !== shape(raw as unknown as Record<string, unknown>)
  ) {
    throw new Error(
      `the fill's createTask arguments no longer match TaskQueue.create: ${shape(viaApi as never)} vs ${shape(raw as never)}`,
    );
  }
  for (const t of [viaApi, raw]) await queue.delete(t.id);
}

/** `count` pending tasks, as createTask scripts on pipelines of FILL_BATCH, two pipelines in flight. */
async function fill(queue: TaskQueue, redis: Redis, count: number, label: string): Promise<number> {
  const started = performance.now();
  let lastReport = started;
  let sent = 0;
  const sendBatch = async () => {
    const n = Math.min(FILL_BATCH, count - sent);
    sent += n;
    const pipeline = redis.pipeline();
    for (let i = 0; i < n; i++)
      queue.scripts.queue(pipeline, "createTask", queue.q.seq, createArgs(queue, newTask()));
    const replies = await queue.scripts.exec(pipeline);
    const failed = replies.find(([err]) => err);
    if (failed) throw failed[0];
    if (performance.now() - lastReport > 10_000) {
      lastReport = performance.now();
      console.log(
        `  filling ${label}: ${sent} of ${count} (${fmt(sent / ((lastReport - started) / 1000), 0)}/s)`,
      );
    }
  };
  const lane = async () => {
    while (sent < count) await sendBatch();
  };
  await Promise.all([lane(), lane()]);
  return (performance.now() - started) / 1000;
}

const usedMemory = async (redis: Redis) =>
  Number(parseInfo(String(await redis.info("memory"))).get("used_memory") ?? 0);

const evalshaStats = async (redis: Redis) =>
  parseCommandStats(String(await redis.info("commandstats"))).get("evalsha") ?? { calls: 0, usec: 0 };

interface Side {
  name: string;
  depth: number;
  queue: TaskQueue;
  latencies: number[];
  scriptUsec: number;
  scriptCalls: number;
}

/** `BATCH` timed claims, one at a time; then the depth is restored (untimed). */
async function claimBatch(side: Side, admin: Redis, count: number, timed: boolean): Promise<void> {
  const before = await evalshaStats(admin);
  const claimed: { id: string; token?: number }[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const [task] = await side.queue.claim({ workerId: "depth-worker", count: 1 });
    const elapsed = performance.now() - started;
    if (!task) throw new Error(`${side.name}: nothing to claim`);
    if (timed) side.latencies.push(elapsed);
    claimed.push({ id: task.id, token: task.leaseToken });
  }
  const after = await evalshaStats(admin);
  if (timed) {
    side.scriptUsec += after.usec - before.usec;
    side.scriptCalls += after.calls - before.calls;
  }
  await Promise.all(claimed.map((t) => side.queue.complete(t.id, { token: t.token })));
  await Promise.all(claimed.map(() => side.queue.create(newTask())));
}

let dataDir: string | null = null;
let embedded: EmbeddedRedis | null = null;
const connections: Redis[] = [];
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const c of connections) c.disconnect();
    await embedded?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  })();
  return cleaning;
}
onInterrupt(SCRIPT, cleanup);

async function main(): Promise<void> {
  const started = performance.now();
  console.log(machineLine(SCRIPT));
  console.log(
    `  depths ${SMALL} vs ${LARGE} pending tasks; ${CLAIMS} timed claims each, in alternating batches of ${BATCH}\n`,
  );
  dataDir = mkdtempSync(join(tmpdir(), "cb-bench-depth-"));
  embedded = await startEmbeddedRedis({ dataDir: join(dataDir, "redis"), appendOnly: false });
  const redis = await connectRedis(embedded.url, "bench-depth");
  const admin = await connectRedis(embedded.url, "bench-admin");
  // The fill's pipelines go on a connection of their own, without auto-pipelining.
  const filler = new Redis(embedded.url, { connectionName: "bench-fill" });
  connections.push(redis, admin, filler);

  const small: Side = {
    name: `depth ${SMALL}`,
    depth: SMALL,
    queue: new TaskQueue(redis, createKeys("depthS"), "bench", EVENT_MAXLEN),
    latencies: [],
    scriptUsec: 0,
    scriptCalls: 0,
  };
  const large: Side = {
    name: `depth ${LARGE}`,
    depth: LARGE,
    queue: new TaskQueue(redis, createKeys("depthL"), "bench", EVENT_MAXLEN),
    latencies: [],
    scriptUsec: 0,
    scriptCalls: 0,
  };

  // Scripts are defined per connection object: the fill uses queues of its own on `filler`.
  const fillSmall = new TaskQueue(filler, createKeys("depthS"), "bench", EVENT_MAXLEN);
  const fillLarge = new TaskQueue(filler, createKeys("depthL"), "bench", EVENT_MAXLEN);
  await checkFillArgs(fillSmall, filler);
  await fill(fillSmall, filler, SMALL, small.name);
  const memBefore = await usedMemory(admin);
  const fillSeconds = await fill(fillLarge, filler, LARGE, large.name);
  const memAfter = await usedMemory(admin);
  const streamBytes = Number((await admin.memory("USAGE", `depthL:{tasks}:events`)) ?? 0);
  const streamLength = await admin.xlen(`depthL:{tasks}:events`);
  const pending = await admin.zcard(`depthL:{tasks}:pending`);
  console.log(
    `filled ${LARGE} tasks in ${fmt(fillSeconds, 1)} s (${fmt(LARGE / fillSeconds, 0)} creates/s); ` +
      `pending: ${pending}; event stream ${streamLength} entries\n`,
  );

  // Warm-up (untimed): scripts loaded, code warm, on both queues.
  for (const side of [small, large]) await claimBatch(side, admin, BATCH, false);
  for (let done = 0, round = 0; done < CLAIMS; round++) {
    const n = Math.min(BATCH, CLAIMS - done);
    const order = round % 2 === 0 ? [small, large] : [large, small];
    for (const side of order) await claimBatch(side, admin, n, true);
    done += n;
  }

  const rows: string[][] = [["queue", "claims", "p50 ms", "p99 ms", "mean ms", "script µs/claim (in Redis)"]];
  const summary = new Map<Side, { p50: number; p99: number; mean: number; script: number }>();
  for (const side of [small, large]) {
    const sorted = Float64Array.from(side.latencies).sort();
    const mean = side.latencies.reduce((a, b) => a + b, 0) / side.latencies.length;
    const s = {
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      mean,
      script: side.scriptUsec / side.scriptCalls,
    };
    summary.set(side, s);
    rows.push([
      `${side.name} pending`,
      String(side.latencies.length),
      fmt(s.p50, 3),
      fmt(s.p99, 3),
      fmt(s.mean, 3),
      fmt(s.script, 1),
    ]);
  }
  const a = summary.get(small) as { p50: number; p99: number; mean: number; script: number };
  const b = summary.get(large) as { p50: number; p99: number; mean: number; script: number };
  rows.push([
    "ratio large/small",
    "",
    `${fmt(b.p50 / a.p50, 2)}x`,
    `${fmt(b.p99 / a.p99, 2)}x`,
    `${fmt(b.mean / a.mean, 2)}x`,
    `${fmt(b.script / a.script, 2)}x`,
  ]);
  console.log(table(rows));

  const perTask = (memAfter - memBefore) / LARGE;
  const perTaskNoStream = (memAfter - memBefore - streamBytes) / LARGE;
  console.log(
    `\nmemory: used_memory grew ${fmt((memAfter - memBefore) / 2 ** 20, 1)} MiB while ${LARGE} tasks were created: ` +
      `${fmt(perTask, 0)} bytes per pending task; without the event stream (${streamLength} entries, ` +
      `${fmt(streamBytes / 2 ** 20, 1)} MiB) ${fmt(perTaskNoStream, 0)} bytes per pending task`,
  );
  console.log(
    `\ntarget: claim p50 at ${LARGE} / at ${SMALL} <= ${TARGET}: ${verdict(b.p50 / a.p50 <= TARGET)} (${fmt(b.p50 / a.p50, 2)}x;` +
      ` p99 ${fmt(b.p99 / a.p99, 2)}x; time inside Redis ${fmt(b.script / a.script, 2)}x)`,
  );
  console.log(`\ntotal time ${fmt((performance.now() - started) / 1000, 0)} s`);
  await cleanup();
}

main().catch(async (err) => {
  console.error(`${SCRIPT}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  await cleanup();
  process.exitCode = 1;
});
