/**
 * What the resilience middleware costs per call, beside the bare dispatch, in one run on one
 * private redis-server:
 *
 *   npm run bench:pipeline [-- --n 20000 --c 1,32 --rounds 3]
 *
 * One in-process server (its background loops slowed to once a minute, so that they do not
 * count), and three dispatchers over the same services:
 *   - bare      the dispatcher with no middleware and no timeout;
 *   - default   the server's own pipeline as configured by default: a circuit breaker and a
 *               30 s timeout on every method, no rate limit;
 *   - all       rate limit (one per call: a limit that is never reached), breaker, timeout and
 *               a concurrency limit on the measured method.
 * Methods: system.ping (no Redis at all: the pure pipeline) and task.get of one task (one Redis
 * round trip of its own). Per configuration, method and concurrency: calls/s, CPU µs per call
 * of this process and of redis-server, Redis commands per call (INFO commandstats, including
 * calls inside scripts, minus an idle phase of the same length) and network round trips per
 * call (total_reads_processed; auto-pipelining merges concurrent commands into one read).
 * Target (issue: resilience): rate limit + breaker add at most one round trip per call.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { loadConfig, policyDefaults } from "../src/config.js";
import { Dispatcher } from "../src/core/dispatch.js";
import { createLogger } from "../src/core/logger.js";
import { builtinHandlers } from "../src/handlers/index.js";
import { CircuitBreakerMiddleware } from "../src/resilience/breaker-middleware.js";
import { BulkheadMiddleware } from "../src/resilience/bulkhead-middleware.js";
import { CacheMiddleware } from "../src/resilience/cache-middleware.js";
import { BreakerBoard } from "../src/resilience/circuit-breaker.js";
import { ResiliencePipeline } from "../src/resilience/pipeline.js";
import { resolvePolicies } from "../src/resilience/policy.js";
import { RateLimitMiddleware } from "../src/resilience/rate-limit-middleware.js";
import { RateLimiter } from "../src/resilience/rate-limiter.js";
import { ResponseCache } from "../src/resilience/response-cache.js";
import { startServer } from "../src/server.js";
import { startEmbeddedRedis } from "../src/storage/embedded-redis.js";
import {
  benchFlags,
  CLK_TCK,
  cpuTicks,
  fmt,
  machineLine,
  median,
  parseCommandStats,
  parseInfo,
  table,
  verdict,
} from "./lib.js";

const SCRIPT = "pipeline-cost";
const {
  n: N,
  c: CONCURRENCY,
  rounds: ROUNDS,
} = benchFlags("bench:pipeline", {
  n: { int: 20_000, help: "measured calls per configuration, method, concurrency and round" },
  c: { ints: "1,32", help: "calls in flight, comma-separated" },
  rounds: { int: 3, help: "rounds; the summary shows medians" },
});

console.log(machineLine(SCRIPT));
const dir = mkdtempSync(join(tmpdir(), "cb-bench-pipeline-"));
const redisServer = await startEmbeddedRedis({ dataDir: dir, appendOnly: false });
const slow = "60000";
const config = loadConfig(
  { port: 0, redisUrl: redisServer.url, keyPrefix: "benchP", db: "none", logLevel: "error" },
  {
    MAINTENANCE_INTERVAL_MS: slow,
    GOSSIP_INTERVAL_MS: slow,
    METRICS_PUBLISH_MS: slow,
    LEADER_TERM_MS: slow,
    MEMBERSHIP_TTL_MS: "120000",
  },
);
const log = createLogger("error");
const server = await startServer(config, { log });
const { kernel, services } = server.dispatcher;
const admin = new Redis(redisServer.url, { connectionName: "bench-admin" });

const measured = ["system.ping", "task.get"] as const;
const allPolicies = resolvePolicies(builtinHandlers, policyDefaults(config), {
  "system.ping": { rateLimit: { limit: 1_000_000_000, windowMs: 60_000 }, concurrency: 100_000 },
  "task.get": { rateLimit: { limit: 1_000_000_000, windowMs: 60_000 }, concurrency: 100_000 },
});
const { redis, keys } = server;
const allBreakers = new BreakerBoard({ redis, keys: keys.policy, log, emit: kernel.emit });
// The server's composition (src/server.ts), in its order.
const all = new ResiliencePipeline(
  [
    new RateLimitMiddleware(new RateLimiter(redis, keys.policy, "bench-all")),
    new CacheMiddleware(new ResponseCache(redis, keys.policy), log),
    new BulkheadMiddleware(),
    new CircuitBreakerMiddleware(allBreakers, log),
  ],
  allPolicies,
);
await allBreakers.start();
const dispatchers: Record<string, Dispatcher<typeof services>> = {
  bare: new Dispatcher(kernel, services, [], () => 0),
  default: server.dispatcher,
  all: new Dispatcher(kernel, services, [all.middleware], all.timeoutFor),
};
const { task } = await services.tasks.create({ text: "read me", priority: 50, maxAttempts: 3 });
const params: Record<(typeof measured)[number], Record<string, unknown>> = {
  "system.ping": {},
  "task.get": { id: task.id },
};

async function redisCounters() {
  const stats = parseCommandStats(String(await admin.info("commandstats")));
  let commands = 0;
  for (const [name, { calls }] of stats) if (name !== "info") commands += calls;
  const reads = Number(parseInfo(String(await admin.info("stats"))).get("total_reads_processed") ?? 0);
  return { commands, reads };
}

async function drive(dispatcher: Dispatcher, method: string, c: number, n: number): Promise<void> {
  let next = 0;
  const meta = { sessionId: "bench" };
  await Promise.all(
    Array.from({ length: c }, async () => {
      while (next++ < n) {
        await dispatcher.call({
          method,
          params: params[method as keyof typeof params],
          transport: "jsonrpc",
          meta,
        });
      }
    }),
  );
}

interface Sample {
  callsPerSec: number;
  cpuUs: number;
  redisCpuUs: number;
  commands: number;
  roundTrips: number;
}

async function measure(name: string, method: string, c: number): Promise<Sample> {
  const dispatcher = dispatchers[name] as Dispatcher;
  await drive(dispatcher, method, c, Math.min(2000, N)); // warm-up
  const before = await redisCounters();
  const cpu = process.cpuUsage();
  const redisTicks = cpuTicks(redisServer.pid);
  const started = performance.now();
  await drive(dispatcher, method, c, N);
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const redisAfter = cpuTicks(redisServer.pid);
  const after = await redisCounters();
  // Background in the same time span (admin INFO calls, the request consumer's blocking reads).
  const idleBefore = await redisCounters();
  await new Promise((r) => setTimeout(r, Math.min(seconds * 1000, 2000)));
  const idleAfter = await redisCounters();
  const idleScale = seconds / Math.min(seconds, 2);
  const idleCommands = (idleAfter.commands - idleBefore.commands) * idleScale;
  const idleReads = (idleAfter.reads - idleBefore.reads) * idleScale;
  return {
    callsPerSec: N / seconds,
    cpuUs: ((used.user + used.system) / N) as number,
    redisCpuUs:
      redisTicks === null || redisAfter === null
        ? Number.NaN
        : ((redisAfter - redisTicks) / CLK_TCK / N) * 1e6,
    commands: Math.max(0, after.commands - before.commands - idleCommands) / N,
    roundTrips: Math.max(0, after.reads - before.reads - idleReads) / N,
  };
}

const samples = new Map<string, Sample[]>();
for (let round = 0; round < ROUNDS; round++) {
  const order = Object.keys(dispatchers);
  for (let i = 0; i < round; i++) order.push(order.shift() as string);
  for (const method of measured) {
    for (const c of CONCURRENCY) {
      for (const name of order) {
        const key = `${method}\t${c}\t${name}`;
        const list = samples.get(key) ?? [];
        list.push(await measure(name, method, c));
        samples.set(key, list);
      }
    }
  }
  console.log(`round ${round + 1}/${ROUNDS} done`);
}

const rows = [
  [
    "method",
    "c",
    "pipeline",
    "calls/s",
    "CPU µs/call",
    "redis CPU µs/call",
    "commands/call",
    "round trips/call",
  ],
];
let worstAdded = 0;
for (const method of measured) {
  for (const c of CONCURRENCY) {
    const bareTrips = median((samples.get(`${method}\t${c}\tbare`) ?? []).map((s) => s.roundTrips));
    for (const name of Object.keys(dispatchers)) {
      const list = samples.get(`${method}\t${c}\t${name}`) ?? [];
      const pick = (f: (s: Sample) => number) => median(list.map(f));
      rows.push([
        method,
        String(c),
        name,
        fmt(
          pick((s) => s.callsPerSec),
          0,
        ),
        fmt(
          pick((s) => s.cpuUs),
          1,
        ),
        fmt(
          pick((s) => s.redisCpuUs),
          1,
        ),
        fmt(
          pick((s) => s.commands),
          2,
        ),
        fmt(
          pick((s) => s.roundTrips),
          2,
        ),
      ]);
      if (c === 1) worstAdded = Math.max(worstAdded, pick((s) => s.roundTrips) - bareTrips);
    }
  }
}
console.log(`\n${table(rows)}`);
console.log(
  `\nround trips added by the middleware at c=1 (worst of all configurations): ${fmt(worstAdded, 2)} per call — target ≤ 1: ${verdict(worstAdded <= 1.05)}`,
);

await allBreakers.stop();
await server.close();
admin.disconnect();
await redisServer.stop();
rmSync(dir, { recursive: true, force: true });
