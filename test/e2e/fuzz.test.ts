import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort, runCli, type SpawnedCli, waitFor } from "../helpers/cli.js";
import { Rng, toJson } from "../helpers/fuzz.js";
import {
  buildCase,
  coveragePairs,
  type FuzzCase,
  type FuzzContext,
  type FuzzMethod,
  type FuzzServer,
} from "../helpers/fuzz-cases.js";
import { type RawSendResult, rawSend, requestBytes } from "../helpers/raw-http.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";

/**
 * The fuzz test of issue 17: malformed bodies, deep nesting, oversize strings and batches,
 * wrong types for every field of every method, odd HTTP methods, paths and headers, bad
 * WebSocket upgrades and bad lastEventIds, sent to every endpoint of two spawned servers (one
 * with an auth token, one without) on a private Redis. Then: both processes alive, no answer
 * 5xx (but 503 UNAVAILABLE, a documented limit) or INTERNAL / TIMEOUT / CIRCUIT_OPEN, no stack
 * trace or path in any answer, every breaker closed, no error in the servers' logs, and the
 * stored tasks exactly as before.
 *
 * The methods come from the running server (system.discover, GET /openapi.json): a method
 * added later is fuzzed on every transport it is served on. Cases are drawn from a seeded
 * PRNG, each from the seed and its index: FUZZ_SEED=<seed> replays a run, FUZZ_ONLY=3,17 only
 * those cases, FUZZ_CASES=<n> sets how many (default 4000, at most 20,000). At most 30 s of
 * requests, 16 at once.
 */

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : randomInt(2 ** 31);
const CASES = Math.min(Number(process.env.FUZZ_CASES ?? 4000), 20_000);
const ONLY = process.env.FUZZ_ONLY ? process.env.FUZZ_ONLY.split(",").map(Number) : null;
const FUZZ_BUDGET_MS = 30_000;
const CONCURRENCY = 16;
const ANSWER_TIMEOUT_MS = 15_000;
const MAX_BODY_BYTES = 64 * 1024;
const RPC_BATCH_MAX = 50;
const TOKEN = "fuzz-token-0123456789abcdef";
const REPO = resolve(import.meta.dirname, "../..");
const REPLAY = `FUZZ_SEED=${SEED} node scripts/run-tests.mjs test/e2e/fuzz.test.ts`;

interface Server extends FuzzServer {
  url: string;
  cli: SpawnedCli;
  dir: string;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** What an answer must never show: the server's stack traces, source locations and paths. */
const LEAKS: [RegExp, string][] = [
  [/\n\s+at \S/, "a stack trace"],
  [/\bat [^\s"]+ \([^)]*:\d+:\d+\)/, "a stack frame"],
  [/node_modules/, "node_modules"],
  [/node:internal/, "node:internal"],
  [/file:\/\//, "a file URL"],
  [/\.[cm]?[jt]s:\d+/, "a source location"],
  [new RegExp(escapeRegExp(REPO)), "the repository's path"],
];

/** Error codes that say the server failed, not the request. */
const SERVER_FAULTS = ["INTERNAL", "TIMEOUT", "CIRCUIT_OPEN"];

function authHeaders(server: Server): Record<string, string> {
  return server.token ? { authorization: `Bearer ${server.token}` } : {};
}

async function rpc(server: Server, method: string, params: Record<string, unknown> = {}) {
  const res = await fetch(`${server.url}/rpc`, {
    method: "POST",
    headers: { "content-type": "application/json", ...authHeaders(server) },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: answers are read field by field
  const body = (await res.json()) as { result?: any; error?: unknown };
  if (body.error !== undefined) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result;
}

async function startServer(name: string, redisUrl: string, token?: string): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), `cb-fuzz-${name}-`));
  const port = await freePort();
  const args = [
    "serve",
    "--redis-url",
    redisUrl,
    "--no-db",
    "--port",
    String(port),
    "--key-prefix",
    `fz${name}`,
  ];
  args.push("--data-dir", join(dir, "data"));
  if (token) args.push("--auth-token", token);
  const env = {
    ...process.env,
    LOG_LEVEL: "warn",
    MAX_BODY_BYTES: String(MAX_BODY_BYTES),
    RPC_BATCH_MAX: String(RPC_BATCH_MAX),
  };
  // In a temporary directory: the server's own paths (policy file, plugins) are not the repository's.
  const cli = runCli(args, env, dir);
  try {
    await waitFor(
      () => cli.stdout().includes("Press Ctrl-C to stop.") || cli.child.exitCode !== null,
      `the ${name} server to start`,
      60_000,
    );
    assert.equal(cli.child.exitCode, null, cli.stderr());
  } catch (err) {
    cli.child.kill("SIGKILL");
    throw err;
  }
  return { name, port, ...(token ? { token } : {}), url: `http://127.0.0.1:${port}`, cli, dir };
}

/** The methods the server serves, from system.discover; the HTTP routes cross-checked with /openapi.json. */
async function discover(server: Server): Promise<FuzzMethod[]> {
  const { methods } = (await rpc(server, "system.discover")) as {
    methods: {
      name: string;
      inputSchema: Record<string, unknown>;
      metadata: {
        httpPath: string | null;
        mcpTool: string | null;
        transports: string[];
        annotations: { readOnlyHint?: boolean } | null;
      };
    }[];
  };
  const openapi = (await (
    await fetch(`${server.url}/openapi.json`, { headers: authHeaders(server) })
  ).json()) as {
    paths: Record<string, unknown>;
  };
  const routes = methods.filter((m) => m.metadata.httpPath && m.metadata.transports.includes("http"));
  assert.deepEqual(Object.keys(openapi.paths).sort(), routes.map((m) => m.metadata.httpPath).sort());
  return methods.map((m) => ({
    name: m.name,
    input: m.inputSchema,
    readOnly: m.metadata.annotations?.readOnlyHint === true,
    httpPath: m.metadata.httpPath,
    mcpTool: m.metadata.mcpTool,
    transports: m.metadata.transports,
  }));
}

/** Tasks in every state: pending, in progress (a lease held for an hour), completed, cancelled. */
async function seedTasks(server: Server): Promise<string[]> {
  const create = async (params: Record<string, unknown>) =>
    (await rpc(server, "task.create", params)).id as string;
  const claim = async () =>
    (await rpc(server, "task.claim", { workerId: "fuzz-holder", leaseMs: 3_600_000 })).tasks[0];
  const held = await create({ text: "seed: in progress", priority: 100, metadata: { seeded: true } });
  assert.equal((await claim()).id, held);
  const done = await create({ text: "seed: completed", priority: 100 });
  const lease = await claim();
  await rpc(server, "task.complete", {
    id: done,
    workerId: "fuzz-holder",
    token: lease.leaseToken,
    result: { ok: [1, 2] },
  });
  const cancelled = await create({ text: "seed: cancelled" });
  await rpc(server, "task.cancel", { id: cancelled, reason: "seed" });
  const high = await create({
    text: "seed: pending high",
    priority: "high",
    channel: "fuzz",
    metadata: { nested: { a: [1, { b: "c" }] } },
  });
  const low = await create({ text: "seed: pending low", priority: 5, description: "d", requires: ["gpu"] });
  return [held, done, cancelled, high, low];
}

/** The stored tasks as the public API shows them. */
async function snapshot(server: Server, ids: string[]) {
  const tasks = await Promise.all(ids.map((id) => rpc(server, "task.get", { id })));
  const list = await rpc(server, "task.list", { limit: 1000 });
  const { byStatus, queueDepth, delayed, activeLeases, deadLetters, workers } = await rpc(
    server,
    "task.stats",
  );
  return {
    tasks,
    list: {
      total: list.totalCount,
      tasks: list.tasks.map((t: Record<string, unknown>) => `${t.id} ${t.status} ${t.updatedAt}`),
    },
    stats: { byStatus, queueDepth, delayed, activeLeases, deadLetters, workers },
  };
}

/** Error codes in an answer: AppError codes (also inside MCP tool results' text) and JSON-RPC numbers. */
function errorCodes(body: string): { names: Set<string>; numbers: Set<number> } {
  const names = new Set([...body.matchAll(/\\?"code\\?":\s*\\?"([A-Z_]+)\\?"/g)].map((m) => m[1] as string));
  const numbers = new Set([...body.matchAll(/"code":\s*(-?\d+)/g)].map((m) => Number(m[1])));
  return { names, numbers };
}

const sameId = (sent: unknown, answered: unknown) => {
  try {
    return JSON.stringify(JSON.parse(toJson(sent))) === JSON.stringify(answered);
  } catch {
    return false;
  }
};

/** What is wrong with the answer to one case (nothing, mostly). */
function problemsWith(c: FuzzCase, { answer, timedOut }: RawSendResult): string[] {
  if (!answer) {
    // A client that went away in the middle of its request gets no answer.
    if (c.request.endAfterWrite) return [];
    return [timedOut ? `no answer within ${ANSWER_TIMEOUT_MS} ms` : "connection closed without an answer"];
  }
  const { status, headers, body } = answer;
  const problems: string[] = [];
  if (status === 101) problems.push("WebSocket upgrade accepted");
  if ((headers["content-type"] ?? "").startsWith("text/event-stream")) problems.push("event stream opened");
  const { names, numbers } = errorCodes(body);
  if (status >= 500 && !(status === 503 && names.has("UNAVAILABLE"))) problems.push(`HTTP ${status}`);
  for (const code of SERVER_FAULTS) if (names.has(code)) problems.push(`error ${code}`);
  if ((c.kind === "rpc" || c.kind === "mcp") && numbers.has(-32603))
    problems.push("JSON-RPC -32603 (internal error)");
  if (c.kind === "rpc" && (numbers.has(-32001) || numbers.has(-32005)))
    problems.push("JSON-RPC circuit open or timeout");
  for (const [pattern, what] of LEAKS) if (pattern.test(body)) problems.push(`${what} in the answer`);
  let json: unknown;
  try {
    json = body === "" ? undefined : JSON.parse(body);
  } catch {
    if (c.kind === "rpc" && status === 200) problems.push("a 200 answer that is not JSON");
  }
  const messages = (Array.isArray(json) ? json : [json]) as Record<string, unknown>[];
  // What ran: JSON-RPC results, MCP tool results (a 202 from /mcp ran nothing: no request in
  // the body), any other 2xx.
  if (c.kind === "rpc") {
    for (const m of status === 200 ? messages : []) {
      if (m && "result" in m && !c.mayAccept.some((id) => sameId(id, m.id))) {
        problems.push(`a call that must be refused succeeded (id ${JSON.stringify(m.id)})`);
      }
    }
  } else if (c.kind === "mcp") {
    for (const m of c.mustRefuse && status === 200 ? messages : []) {
      const result = m?.result as { isError?: boolean } | undefined;
      if (result && result.isError !== true) problems.push("a tool call that must be refused succeeded");
    }
  } else if (c.mustRefuse && status >= 200 && status < 300) {
    problems.push(`a request that must be refused was answered ${status}`);
  }
  return problems;
}

function describeRequest(c: FuzzCase): string {
  const body = c.request.body === undefined ? "" : Buffer.from(c.request.body).toString("utf8");
  const shown = body.length > 160 ? `${body.slice(0, 160)}… (${body.length} bytes)` : body;
  return `${c.request.method} ${c.request.target.slice(0, 100)} ${JSON.stringify(shown)}`;
}

/** Problems in a server's stderr (pino JSON lines at LOG_LEVEL=warn): errors, fatal, crashes. */
function logProblems(server: Server): string[] {
  const problems: string[] = [];
  for (const line of server.cli.stderr().split("\n")) {
    if (line.trim() === "") continue;
    let entry: { level?: number; msg?: string };
    try {
      entry = JSON.parse(line);
    } catch {
      problems.push(`${server.name}: stderr line that is not a log entry: ${line.slice(0, 300)}`);
      continue;
    }
    if ((entry.level ?? 0) >= 50 || /uncaught|unhandled/i.test(entry.msg ?? "")) {
      problems.push(`${server.name}: logged ${line.slice(0, 600)}`);
    }
  }
  return problems;
}

async function breakerProblems(server: Server): Promise<string[]> {
  const problems: string[] = [];
  const { circuits } = (await rpc(server, "system.circuits")) as {
    circuits: { method: string; state: string }[];
  };
  for (const c of circuits)
    if (c.state !== "closed") problems.push(`${server.name}: breaker of ${c.method} is ${c.state}`);
  const metrics = await (await fetch(`${server.url}/metrics`, { headers: authHeaders(server) })).text();
  for (const m of metrics.matchAll(/^claudebench_circuit_state\{([^}]*)\} (\S+)$/gm)) {
    if (m[2] !== "0") problems.push(`${server.name}: /metrics claudebench_circuit_state{${m[1]}} ${m[2]}`);
  }
  return problems;
}

describe("fuzzing every endpoint of a running server", { timeout: 120_000 }, () => {
  let redis: TestRedis;
  /** In a fixed order: a case's server is drawn from this list. */
  const servers: Server[] = [];

  before(async () => {
    redis = await startTestRedis();
    // Both or neither: one that started is stopped in after() even when the other failed.
    const started = await Promise.allSettled([
      startServer("auth", redis.url, TOKEN),
      startServer("open", redis.url),
    ]);
    for (const result of started) if (result.status === "fulfilled") servers.push(result.value);
    for (const result of started) if (result.status === "rejected") throw result.reason;
  });

  after(async () => {
    for (const server of servers) {
      if (server.cli.child.exitCode === null && server.cli.child.signalCode === null) {
        server.cli.child.kill("SIGKILL");
        await server.cli.exited;
      }
      rmSync(server.dir, { recursive: true, force: true });
    }
    await redis?.stop();
  });

  it("stays up, answers every bad request with a clean 4xx and changes no stored task", async (t) => {
    t.diagnostic(`seed ${SEED} (replay: ${REPLAY})`);
    const methods = await discover(servers[0] as Server);
    const seeded = new Map<Server, { ids: string[]; before: unknown }>();
    for (const server of servers) {
      const ids = await seedTasks(server);
      seeded.set(server, { ids, before: await snapshot(server, ids) });
    }
    const ctx: FuzzContext = { methods, servers, maxBodyBytes: MAX_BODY_BYTES, maxBatch: RPC_BATCH_MAX };

    const failures: string[] = [];
    const fail = (c: FuzzCase, problem: string) =>
      failures.push(
        `#${c.index} [${c.server.name}] ${c.family}: ${problem}\n    ${describeRequest(c)}\n    ${c.notes.join("; ").slice(0, 400)}`,
      );
    const inFlight = new Map<number, FuzzCase>();
    let down = false;
    for (const server of servers) {
      server.cli.child.once("exit", (code, signal) => {
        down = true;
        const cases = [...inFlight.values()].filter((c) => c.server === server);
        failures.push(
          `the ${server.name} server exited (${code ?? signal}) with these cases in flight:\n${cases.map((c) => `    #${c.index} ${c.family}: ${describeRequest(c)}`).join("\n")}\n${server.cli.stderr().slice(-3000)}`,
        );
      });
    }

    const indices = ONLY ?? Array.from({ length: CASES }, (_, i) => i);
    const started = Date.now();
    const deadline = started + FUZZ_BUDGET_MS;
    const statuses = new Map<number, number>();
    const covered = new Set<string>();
    let next = 0;
    let sent = 0;
    const worker = async () => {
      while (next < indices.length && !down && Date.now() < deadline) {
        const index = indices[next++] as number;
        const c = buildCase(Rng.forCase(SEED, index), ctx, index);
        const { request } = c;
        inFlight.set(index, c);
        const result = await rawSend(
          (c.server as Server).url,
          requestBytes(request.method, request.target, request.headers, request.body),
          { timeoutMs: ANSWER_TIMEOUT_MS, endAfterWrite: request.endAfterWrite === true },
        );
        inFlight.delete(index);
        sent++;
        const status = result.answer?.status ?? 0;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        for (const pair of c.covers) covered.add(pair);
        for (const problem of problemsWith(c, result)) fail(c, problem);
      }
    };
    // Liveness while fuzzing: /health of each server every 2 s.
    const fuzzing = new AbortController();
    const monitor = (async () => {
      while (!down) {
        const stopped = await sleep(2000, false, { signal: fuzzing.signal }).catch(() => true);
        if (stopped) return;
        for (const server of servers) {
          const res = await fetch(`${server.url}/health`, { signal: AbortSignal.timeout(10_000) }).catch(
            (err: Error) => err,
          );
          if (res instanceof Error || res.status !== 200) {
            failures.push(
              `${server.name}: /health during fuzzing: ${res instanceof Error ? res.message : res.status}`,
            );
          }
        }
      }
    })();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    fuzzing.abort();
    await monitor;
    const elapsed = Date.now() - started;
    t.diagnostic(
      `${sent} requests in ${elapsed} ms (${indices.length - sent} not sent: time budget); answers by status: ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`,
    );
    assert.ok(sent <= 20_000);

    // After: alive, healthy, breakers closed, logs clean, tasks unchanged.
    await new Promise((r) => setTimeout(r, 500));
    const after: string[] = [];
    for (const server of servers) {
      if (server.cli.child.exitCode !== null || server.cli.child.signalCode !== null) {
        after.push(`${server.name}: the process is gone`);
        continue;
      }
      const health = await fetch(`${server.url}/health`, { headers: authHeaders(server) });
      const { status } = (await health.json()) as { status: string };
      if (health.status !== 200 || status !== "healthy")
        after.push(`${server.name}: /health ${health.status} ${status}`);
      after.push(...(await breakerProblems(server)));
      after.push(...logProblems(server));
      const { ids, before } = seeded.get(server) as { ids: string[]; before: unknown };
      try {
        assert.deepEqual(await snapshot(server, ids), before);
      } catch (err) {
        after.push(`${server.name}: the stored tasks changed: ${(err as Error).message.slice(0, 3000)}`);
      }
    }
    if (!ONLY && sent >= coveragePairs(methods).length) {
      const missing = coveragePairs(methods)
        .map(({ method, transport }) => `${method.name}/${transport}`)
        .filter((pair) => !covered.has(pair));
      if (missing.length > 0) after.push(`never fuzzed: ${missing.join(", ")}`);
    }

    const all = [...failures, ...after];
    assert.equal(
      all.length,
      0,
      `${all.length} problems with seed ${SEED} (replay: ${REPLAY}; one case: FUZZ_ONLY=<#>):\n${all.slice(0, 40).join("\n")}${all.length > 40 ? `\n… and ${all.length - 40} more` : ""}`,
    );
  });
});
