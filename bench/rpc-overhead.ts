/**
 * Transport overhead: ClaudeBench's JSON-RPC path (node:http → /rpc → processJsonRpc →
 * Dispatcher → system.ping, which does not touch Redis) against a bare node:http JSON echo
 * server (bench/bare-echo-server.mjs), both measured in the same run on the same machine.
 *
 *   npm run bench:rpc [-- --n 20000 --warmup 2000 --c 50 --rounds 3 --client http|net --cpu-prof]
 *
 * Both servers run as child processes (ours is `claudebench serve` from dist, on a private
 * redis-server); the load generator runs here with `--c` requests in flight: node:http with a
 * keep-alive Agent by default, or raw keep-alive sockets (`--client net`), which cost far less
 * client CPU so that on a 2-core machine the server, not the client, limits req/s.
 * For each server: req/s, p50/p99 latency and the server's CPU time per request, read from
 * /proc/<pid>/stat before and after the measured phase. /proc/stat also tells how busy the
 * rest of the machine was; rounds in which it took more than BUSY_MACHINE_PCT of a core are
 * shown but left out of the summary (medians over rounds; the order of the servers alternates).
 * Ours runs in the default configuration (`--config default`: with its history store, whose
 * process persists the audit stream; system.ping is not audited) or with `--config no-db`.
 * A benchmark, not a test: it prints figures and asserts nothing (it exits 1 only when
 * requests failed or the setup broke).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type EmbeddedRedis, startEmbeddedRedis } from "../src/storage/embedded-redis.js";
import {
  benchFlags,
  type Child,
  CLK_TCK,
  CONFIG_FLAG,
  children,
  cpuTicks,
  ensureBuilt,
  fmt,
  freePort,
  healthyWithDatabase,
  machineBusyTicks,
  machineLine,
  median,
  medianOrNull,
  ROOT,
  serveArgs,
  serveConfig,
  startChild,
  stopChild,
  table,
} from "./lib.js";

const TARGET_RATIO = 0.7;
/** A measured phase during which the rest of the machine used more than this (% of a core) is disturbed. */
const BUSY_MACHINE_PCT = 15;

const flags = benchFlags("bench:rpc", {
  n: { int: 20_000, help: "measured requests per server per round" },
  warmup: { int: 2000, help: "unmeasured requests before each measured phase" },
  c: { int: 50, help: "requests in flight (keep-alive connections)" },
  rounds: { int: 3, help: "rounds; the order of the servers alternates, the summary shows medians" },
  config: CONFIG_FLAG,
  client: {
    text: "http",
    hint: "http|net",
    help:
      "http: node:http with a keep-alive Agent (default); net: a raw keep-alive socket per\n" +
      "slot writing the same request (much cheaper, so the server rather than this\n" +
      "process limits req/s on a 2-core machine)",
  },
  "cpu-prof": {
    on: false,
    help: "run both servers under node --cpu-prof (the profile directory is printed at the end)",
  },
});
const { n: N, warmup: WARMUP, c: C, rounds: ROUNDS } = flags;
if (flags.client !== "http" && flags.client !== "net") {
  console.error(`bench:rpc: --client must be http or net, got ${flags.client}`);
  process.exit(2);
}
const CLIENT: "http" | "net" = flags.client;
const CONFIG = serveConfig("bench:rpc", flags.config);

// ---------------------------------------------------------------------------- processes

interface Target extends Child {
  readonly port: number;
  /** One per request slot (`--c`), reused across rounds. */
  senders: Sender[];
}

const closers: (() => void)[] = [];

async function startTarget(name: string, args: string[], port: number): Promise<Target> {
  const probe = new Agent({ keepAlive: false });
  let started: Child;
  try {
    started = await startChild(name, args, { ready: async () => (await httpPing(probe, port, 0)) === null });
  } finally {
    probe.destroy();
  }
  return { ...started, port, senders: await openSenders(port) };
}

// ---------------------------------------------------------------------------- load

/** Sends one system.ping with this id; resolves null when the answer is its success, else why not. */
type Sender = (id: number) => Promise<string | null>;

const pingBody = (id: number) => `{"jsonrpc":"2.0","id":${id},"method":"system.ping","params":{}}`;

function checkAnswer(status: number | undefined, text: string, id: number): string | null {
  if (status !== 200) return `HTTP ${status}: ${text.slice(0, 200)}`;
  try {
    const json = JSON.parse(text);
    const ok = json.jsonrpc === "2.0" && json.id === id && json.result?.pong === true;
    return ok ? null : `unexpected answer: ${text.slice(0, 200)}`;
  } catch {
    return `answer is not JSON: ${text.slice(0, 200)}`;
  }
}

function httpPing(agent: Agent, port: number, id: number): Promise<string | null> {
  const body = pingBody(id);
  return new Promise((resolve) => {
    const req = request(
      {
        agent,
        host: "127.0.0.1",
        port,
        path: "/rpc",
        method: "POST",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", (err) => resolve(`response error: ${err.message}`));
        res.on("end", () => resolve(checkAnswer(res.statusCode, Buffer.concat(chunks).toString(), id)));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error("no answer within 10 s")));
    req.on("error", (err) => resolve(`request failed: ${err.message}`));
    req.end(body);
  });
}

const HEADER_END = Buffer.from("\r\n\r\n");
const CONTENT_LENGTH = /\r\ncontent-length:\s*(\d+)/i;

/**
 * `--client net`: one keep-alive TCP connection, one request in flight, the same bytes on the
 * wire as node:http sends. Answers are framed by content-length (both servers send it).
 */
function rawSender(port: number): Promise<Sender> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    socket.setNoDelay(true);
    let buffered: Buffer = Buffer.alloc(0);
    let pending: { id: number; done: (failure: string | null) => void } | null = null;
    const fail = (why: string) => {
      const p = pending;
      pending = null;
      p?.done(why);
    };
    socket.on("data", (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const headEnd = buffered.indexOf(HEADER_END);
      if (headEnd < 0) return;
      const head = buffered.toString("latin1", 0, headEnd);
      const length = Number(CONTENT_LENGTH.exec(head)?.[1] ?? Number.NaN);
      if (Number.isNaN(length)) return fail(`answer without content-length: ${head.slice(0, 200)}`);
      const end = headEnd + HEADER_END.length + length;
      if (buffered.length < end) return;
      const text = buffered.toString("utf8", headEnd + HEADER_END.length, end);
      buffered = buffered.subarray(end);
      const p = pending;
      pending = null;
      if (p) p.done(checkAnswer(Number(head.slice(9, 12)), text, p.id));
    });
    socket.on("error", (err) => fail(`connection failed: ${err.message}`));
    socket.on("close", () => fail("connection closed"));
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.off("error", reject);
      closers.push(() => socket.destroy());
      const head = `POST /rpc HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: `;
      resolve((id) => {
        if (socket.destroyed) return Promise.resolve("connection closed");
        const body = pingBody(id);
        return new Promise((done) => {
          pending = { id, done };
          socket.write(`${head}${body.length}\r\n\r\n${body}`);
        });
      });
    });
  });
}

async function openSenders(port: number): Promise<Sender[]> {
  if (CLIENT === "net") return Promise.all(Array.from({ length: C }, () => rawSender(port)));
  const agent = new Agent({ keepAlive: true, maxSockets: C });
  closers.push(() => agent.destroy());
  const send: Sender = (id) => httpPing(agent, port, id);
  return Array.from({ length: C }, () => send);
}

interface Measurement {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Server CPU time per request, µs; null without /proc. */
  cpuUsPerReq: number | null;
  /** Server CPU time over wall time, % of one core. */
  serverCpuPct: number | null;
  /** This process's (the load generator's) CPU time over wall time, % of one core. */
  loadCpuPct: number;
  /**
   * Everything else the machine did meanwhile (other processes, steal, interrupts not charged
   * to a process), % of one core; null without /proc.
   */
  otherCpuPct: number | null;
  errors: number;
  firstError: string | null;
}

let nextId = 1;

/** `total` requests, one slot per sender (`--c` in flight). */
async function load(target: Target, total: number) {
  const latencies = new Float64Array(total);
  let next = 0;
  let errors = 0;
  let firstError: string | null = null;
  const worker = async (send: Sender) => {
    while (next < total) {
      const i = next++;
      const started = performance.now();
      const failure = await send(nextId++);
      latencies[i] = performance.now() - started;
      if (failure !== null) {
        errors++;
        firstError ??= failure;
      }
    }
  };
  await Promise.all(target.senders.map(worker));
  latencies.sort();
  const at = (p: number) => latencies[Math.max(0, Math.ceil((p / 100) * total) - 1)] ?? 0;
  return { p50Ms: at(50), p99Ms: at(99), errors, firstError };
}

async function measure(target: Target): Promise<Measurement> {
  const pid = target.child.pid as number;
  const warm = await load(target, WARMUP);
  const serverBefore = cpuTicks(pid);
  const machineBefore = machineBusyTicks();
  const selfBefore = process.cpuUsage();
  const started = performance.now();
  const measured = await load(target, N);
  const seconds = (performance.now() - started) / 1000;
  const self = process.cpuUsage(selfBefore);
  const machineAfter = machineBusyTicks();
  const serverAfter = cpuTicks(pid);
  const loadSeconds = (self.user + self.system) / 1e6;
  const serverSeconds =
    serverBefore === null || serverAfter === null ? null : (serverAfter - serverBefore) / CLK_TCK;
  const machineSeconds =
    machineBefore === null || machineAfter === null ? null : (machineAfter - machineBefore) / CLK_TCK;
  return {
    ...measured,
    reqPerSec: N / seconds,
    errors: measured.errors + warm.errors,
    firstError: warm.firstError ?? measured.firstError,
    cpuUsPerReq: serverSeconds === null ? null : (serverSeconds * 1e6) / N,
    serverCpuPct: serverSeconds === null ? null : (serverSeconds / seconds) * 100,
    loadCpuPct: (loadSeconds / seconds) * 100,
    otherCpuPct:
      serverSeconds === null || machineSeconds === null
        ? null
        : (Math.max(0, machineSeconds - serverSeconds - loadSeconds) / seconds) * 100,
  };
}

// ---------------------------------------------------------------------------- main

let dataDir: string | null = null;
let redis: EmbeddedRedis | null = null;
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const close of closers) close();
    await Promise.all([...children].map(stopChild));
    await redis?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  })();
  return cleaning;
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.error(`\nrpc-overhead: ${signal}, cleaning up...`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function main(): Promise<number> {
  ensureBuilt();
  console.log(machineLine("rpc-overhead"));
  console.log(
    `  ${N} measured requests per server per round after ${WARMUP} warm-up, c=${C}, ` +
      `${ROUNDS} rounds, load generator: ${CLIENT === "http" ? "node:http keep-alive Agent" : "raw keep-alive sockets"}\n`,
  );

  dataDir = mkdtempSync(join(tmpdir(), "cb-bench-rpc-"));
  redis = await startEmbeddedRedis({ dataDir: join(dataDir, "redis"), appendOnly: false });

  const profileDir = flags["cpu-prof"] ? join(tmpdir(), `cb-cpu-prof-${Date.now()}`) : null;
  const profile = (name: string) =>
    profileDir ? ["--cpu-prof", "--cpu-prof-dir", join(profileDir, name)] : [];
  const oursPort = await freePort();
  const ours = await startTarget(
    "claudebench",
    [...profile("claudebench"), ...serveArgs(oursPort, redis.url, "bench", CONFIG, join(dataDir, "store"))],
    oursPort,
  );
  // With its store: measured once the store answers too (it starts in the background).
  const storeUp = healthyWithDatabase(oursPort);
  for (const deadline = Date.now() + 120_000; !(await storeUp()); ) {
    if (Date.now() > deadline) throw new Error("our server's history store did not answer within 120 s");
    await new Promise((r) => setTimeout(r, 100));
  }
  const barePort = await freePort();
  const bare = await startTarget(
    "bare node:http",
    [...profile("bare"), join(ROOT, "bench", "bare-echo-server.mjs"), String(barePort)],
    barePort,
  );

  const rounds: { bare: Measurement; ours: Measurement }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? [bare, ours] : [ours, bare];
    const measured = new Map<Target, Measurement>();
    for (const target of order) {
      const m = await measure(target);
      measured.set(target, m);
      console.log(
        `round ${round + 1}  ${target.name.padEnd(14)}  ${fmt(m.reqPerSec, 0).padStart(7)} req/s` +
          `  p50 ${fmt(m.p50Ms, 2)} ms  p99 ${fmt(m.p99Ms, 2)} ms  ${fmt(m.cpuUsPerReq, 1)} µs/req` +
          `  (CPU, % of a core: server ${fmt(m.serverCpuPct, 0)}, load generator ${fmt(m.loadCpuPct, 0)},` +
          ` rest of machine ${fmt(m.otherCpuPct, 0)})` +
          (m.errors ? `  ${m.errors} ERRORS` : ""),
      );
    }
    rounds.push({ bare: measured.get(bare) as Measurement, ours: measured.get(ours) as Measurement });
  }

  // A round in which something else on the machine took a real share of a core says more
  // about that than about our servers: summarise the quiet rounds when there are any.
  const quiet = (m: Measurement) => m.otherCpuPct === null || m.otherCpuPct <= BUSY_MACHINE_PCT;
  const quietRounds = rounds.filter((r) => quiet(r.bare) && quiet(r.ours));
  const used = quietRounds.length > 0 ? quietRounds : rounds;
  const summary = (ms: Measurement[]) => ({
    reqPerSec: median(ms.map((m) => m.reqPerSec)),
    p50Ms: median(ms.map((m) => m.p50Ms)),
    p99Ms: median(ms.map((m) => m.p99Ms)),
    cpuUsPerReq: medianOrNull(ms.map((m) => m.cpuUsPerReq)),
    serverCpuPct: medianOrNull(ms.map((m) => m.serverCpuPct)),
    loadCpuPct: median(ms.map((m) => m.loadCpuPct)),
  });
  const b = summary(used.map((r) => r.bare));
  const o = summary(used.map((r) => r.ours));
  const rpsRatios = used.map((r) => r.ours.reqPerSec / r.bare.reqPerSec);
  const cpuRatios = used.flatMap((r) =>
    r.ours.cpuUsPerReq !== null && r.bare.cpuUsPerReq ? [r.ours.cpuUsPerReq / r.bare.cpuUsPerReq] : [],
  );
  const rpsRatio = o.reqPerSec / b.reqPerSec;
  const cpuRatio = o.cpuUsPerReq !== null && b.cpuUsPerReq ? o.cpuUsPerReq / b.cpuUsPerReq : null;
  const range = (ratios: number[]) =>
    ratios.length ? `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}x per round` : "n/a";

  const which =
    used.length === rounds.length
      ? `${rounds.length} round(s)`
      : `the ${used.length} quiet round(s) of ${rounds.length}`;
  console.log(`\nmedian of ${which}, ${N} requests each, c=${C}, ${CLIENT} load generator:\n`);
  console.log(
    table([
      ["server", "req/s", "p50 ms", "p99 ms", "CPU µs/req"],
      ...[b, o].map((s, i) => [
        i === 0 ? bare.name : ours.name,
        fmt(s.reqPerSec, 0),
        fmt(s.p50Ms, 2),
        fmt(s.p99Ms, 2),
        fmt(s.cpuUsPerReq, 1),
      ]),
    ]),
  );
  console.log(
    `\nours/bare  req/s ${rpsRatio.toFixed(2)}x (${range(rpsRatios)})` +
      `   CPU/req ${cpuRatio === null ? "n/a" : `${cpuRatio.toFixed(2)}x`} (${range(cpuRatios)})`,
  );
  console.log(
    `target: >= ${TARGET_RATIO}x bare req/s  -> ${rpsRatio >= TARGET_RATIO ? "met" : "NOT met"} (${rpsRatio.toFixed(3)}x)`,
  );

  if (quietRounds.length < rounds.length) {
    console.log(
      quietRounds.length > 0
        ? `\nnote: ${rounds.length - quietRounds.length} round(s) left out of the summary: the rest of the machine used more than ${BUSY_MACHINE_PCT} % of a core meanwhile`
        : `\nWARNING: in every round the rest of the machine used more than ${BUSY_MACHINE_PCT} % of a core: req/s and latency are disturbed; CPU µs/req is the steadier figure. Run again on a quiet machine.`,
    );
  }
  if (b.serverCpuPct !== null && b.serverCpuPct < 85 && b.loadCpuPct >= 85) {
    console.log(
      `\nnote: the load generator (${b.loadCpuPct.toFixed(0)} % of a core) saturated before the bare server` +
        ` (${b.serverCpuPct.toFixed(0)} %), so req/s measures the client as much as the servers and the` +
        " req/s ratio is pulled toward 1; CPU µs/req still compares the servers (--client net loads them harder).",
    );
  }

  let failed = false;
  for (const side of ["bare", "ours"] as const) {
    const ms = rounds.map((r) => r[side]);
    const count = ms.reduce((sum, m) => sum + m.errors, 0);
    if (count > 0) {
      failed = true;
      const name = side === "bare" ? bare.name : ours.name;
      console.log(
        `\nERRORS: ${name} failed ${count} request(s); first: ${ms.find((m) => m.firstError)?.firstError}`,
      );
    }
  }
  if (failed) console.log("The figures above include failed requests and are not valid.");
  else console.log(`\nall ${2 * ROUNDS * (N + WARMUP)} requests succeeded`);

  await cleanup();
  if (profileDir)
    console.log(`\nCPU profiles (.cpuprofile, open in Chrome DevTools): ${profileDir}/{claudebench,bare}`);
  return failed ? 1 : 0;
}

main()
  .then((code) => {
    process.exitCode = code;
  })
  .catch(async (err) => {
    console.error(`rpc-overhead: ${err instanceof Error ? err.message : String(err)}`);
    await cleanup();
    process.exitCode = 1;
  });
