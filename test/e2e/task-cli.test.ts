import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import type { Task } from "../../src/contract/tasks.js";
import { freePort, runCli } from "../helpers/cli.js";
import { startTestRedis, type TestRedis, uniquePrefix } from "../helpers/redis.js";
import { startTestServer } from "../helpers/server.js";

/**
 * `claudebench task ...` and the CLI's errors, through the real built CLI (a process per
 * command) against a real server on a real Redis.
 */

let redis: TestRedis;
let server: Awaited<ReturnType<typeof startTestServer>>;
let url: string;
/** The CLI runs here, with no CLAUDEBENCH_* in its environment: nothing of the user's is read. */
let cwd: string;
const env = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !/^(CLAUDEBENCH_|AUTH_TOKEN|PORT$)/.test(name)),
);

before(async () => {
  redis = await startTestRedis();
  server = await startTestServer({ redisUrl: redis.url });
  url = server.url;
  cwd = mkdtempSync(join(tmpdir(), "cb-task-cli-"));
});

after(async () => {
  await server?.close();
  await redis?.stop();
  if (cwd) rmSync(cwd, { recursive: true, force: true });
});

/** Runs `claudebench <args>` to its end. */
async function cli(...args: string[]) {
  const run = runCli(args, env, cwd);
  const code = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/** `claudebench task <sub> ... --url <server>` */
const task = (...args: string[]) => cli("task", ...args, "--url", url);

async function rpc<T>(method: string, params: Record<string, unknown>): Promise<T> {
  const res = await fetch(`${url}/rpc`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await res.json()) as { result?: T; error?: unknown };
  assert.ok(body.result, `${method}: ${JSON.stringify(body.error)}`);
  return body.result;
}

const getTask = async (id: string) => JSON.parse((await task("get", id, "--json")).stdout) as Task;

/** Creates a task through the CLI with --json; returns it. */
async function created(...args: string[]): Promise<Task> {
  const out = await task("create", ...args, "--json");
  assert.equal(out.code, 0, out.stderr);
  return JSON.parse(out.stdout) as Task;
}

/** An error the CLI reports: exit code non-zero, exactly one line on stderr, no stack trace. */
function assertOneLineError(out: { code: number | string; stderr: string }, expected: RegExp): void {
  assert.notEqual(out.code, 0);
  const lines = out.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line, got:\n${out.stderr}`);
  assert.match(lines[0] as string, /^claudebench: /);
  assert.match(lines[0] as string, expected);
}

describe("claudebench task", () => {
  it("create --requires: the task needs those capabilities, and only a worker that has them claims it", async () => {
    const channel = uniquePrefix("req");
    const t = await created("render", "--requires", "gpu", "--requires", "cuda,fp16", "--channel", channel);
    assert.deepEqual(t.requires, ["gpu", "cuda", "fp16"]);
    assert.match((await task("get", t.id)).stdout, /^requires:\s+gpu, cuda, fp16$/m);

    const without = await rpc<{ claimed: boolean }>("task.claim", { workerId: "w-plain", channel });
    assert.equal(without.claimed, false);
    const withCaps = await rpc<{ tasks: Task[] }>("task.claim", {
      workerId: "w-gpu",
      channel,
      capabilities: ["gpu", "cuda", "fp16"],
    });
    assert.deepEqual(
      withCaps.tasks.map((x) => x.id),
      [t.id],
    );
  });

  it("set-priority re-orders a waiting task: it is claimed first", async () => {
    const channel = uniquePrefix("prio");
    const first = await created("first", "--priority", "medium", "--channel", channel);
    const second = await created("second", "--priority", "low", "--channel", channel);

    const out = await task("set-priority", second.id, "critical");
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout.trim(), `${second.id}: priority 100`);
    const byNumber = await task("set-priority", first.id, "7", "--json");
    assert.equal((JSON.parse(byNumber.stdout) as Task).priority, 7);

    const claimed = await rpc<{ tasks: Task[] }>("task.claim", { workerId: "w-prio", channel });
    assert.deepEqual(
      claimed.tasks.map((x) => x.id),
      [second.id],
    );
  });

  it("release puts a task in progress back in the queue without counting the attempt; --worker only as its holder", async () => {
    const channel = uniquePrefix("rel");
    const t = await created("held", "--channel", channel);
    await rpc("task.claim", { workerId: "w-holder", channel });

    const notHolder = await task("release", t.id, "--worker", "w-other");
    assertOneLineError(notHolder, /LEASE_LOST: .*held by w-holder/);
    assert.equal((await getTask(t.id)).status, "in_progress");

    const byOperator = await task("release", t.id);
    assert.equal(byOperator.code, 0, byOperator.stderr);
    assert.equal(byOperator.stdout.trim(), `released ${t.id} from w-holder: pending again`);
    const back = await getTask(t.id);
    assert.equal(back.status, "pending");
    assert.equal(back.attempts, 0);

    await rpc("task.claim", { workerId: "w-holder", channel });
    const byHolder = await task("release", t.id, "--worker", "w-holder", "--json");
    assert.equal(byHolder.code, 0, byHolder.stderr);
    assert.equal((JSON.parse(byHolder.stdout) as { task: Task }).task.status, "pending");

    assertOneLineError(await task("release", t.id), /CONFLICT: .*pending/);
  });

  it("stats prints a table, and JSON with --json", async () => {
    const channel = uniquePrefix("stats");
    await created("counted", "--channel", channel);
    await rpc("task.claim", { workerId: "w-stats", channel });

    const table = await task("stats");
    assert.equal(table.code, 0, table.stderr);
    assert.throws(() => JSON.parse(table.stdout), "not JSON");
    assert.match(table.stdout, /^STATUS\s+TASKS$/m);
    assert.match(table.stdout, /^in_progress\s+[1-9]\d*$/m);
    assert.match(table.stdout, /^claimable now\s+\d+$/m);
    assert.match(table.stdout, /^wait \(created → claimed\)\s+[1-9]\d*\s+\d/m);
    assert.match(table.stdout, /^w-stats\s+1$/m);

    const json = JSON.parse((await task("stats", "--json")).stdout) as { byStatus: Record<string, number> };
    assert.ok((json.byStatus.in_progress ?? 0) >= 1);
  });
});

describe("the CLI's errors: one line with what to do", () => {
  it("an invalid priority lists the accepted ones, before calling the server", async () => {
    const accepted = /0\.\.100\|low\|medium\|high\|critical/;
    assertOneLineError(await task("create", "x", "--priority", "urgent"), accepted);
    assertOneLineError(await task("create", "x", "--priority", "101"), accepted);
    assertOneLineError(await task("set-priority", "t-1", "highest"), accepted);
  });

  it("--metadata that is not a JSON object is one line, not a stack trace", async () => {
    assertOneLineError(await task("create", "x", "--metadata", "{bad"), /--metadata.*not JSON.*JSON object/);
    assertOneLineError(await task("create", "x", "--metadata", "[1,2]"), /--metadata.*JSON object/);
    assertOneLineError(
      await task("create", "x", "--max-attempts", "many"),
      /--max-attempts.*whole number from 1 to 100/,
    );
  });

  it("answers of the server say what to do next", async () => {
    assertOneLineError(await task("get", "t-999999"), /NOT_FOUND: .*t-999999.*`claudebench task list`/);
    const down = await cli("task", "get", "t-1", "--url", `http://127.0.0.1:${await freePort()}`);
    assertOneLineError(down, /cannot reach ClaudeBench.*`claudebench serve`.*--url/);
    assertOneLineError(
      await cli("task", "get", "t-1", "--url", "localhost:3000"),
      /CLAUDEBENCH_URL.*http:\/\//,
    );
    assertOneLineError(await task("get", "t-1", "--no-such-flag"), /unknown option '--no-such-flag'.*--help/);
  });

  it("serve on a port in use suggests --port", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const out = await cli(
        "serve",
        ...["--port", String(port), "--redis-url", redis.url, "--key-prefix", uniquePrefix("port")],
        ...["--no-db", "--data-dir", join(cwd, "data"), "--log-level", "silent"],
      );
      assertOneLineError(out, new RegExp(`127\\.0\\.0\\.1:${port} is in use.*--port`));
    } finally {
      taken.close();
    }
  });
});

/** A module loader hook (node:module register) that appends each module's URL to $CB_MODULES_LOG. */
const RECORD_MODULES_HOOK = [
  'import { appendFileSync } from "node:fs";',
  "export async function load(url, context, next) {",
  '  appendFileSync(process.env.CB_MODULES_LOG, url + "\\n");',
  "  return next(url, context);",
  "}",
].join("\n");

describe("CLI start-up loads only what the command needs", () => {
  /** The modules a CLI run loads, by URL, recorded through a module loader hook. */
  async function modulesLoaded(...args: string[]): Promise<string[]> {
    const log = join(cwd, `modules-${uniquePrefix()}.log`);
    const hooks = join(cwd, "record-hooks.mjs");
    writeFileSync(hooks, RECORD_MODULES_HOOK);
    const register = join(cwd, "record-modules.mjs");
    writeFileSync(
      register,
      `import { register } from "node:module";\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`,
    );
    const run = runCli(
      args,
      { ...env, CB_MODULES_LOG: log, NODE_OPTIONS: `--import=${pathToFileURL(register).href}` },
      cwd,
    );
    assert.equal(await run.exited, 0, run.stderr());
    return readFileSync(log, "utf8").split("\n").filter(Boolean);
  }

  const SERVER_SIDE =
    /node_modules\/(zod|pino|ioredis|drizzle-orm|@electric-sql|@modelcontextprotocol|pg|ws)\/|dist\/(server|storage|core\/logger|config)\.js|dist\/(storage|transports|handlers)\//;

  it("--version and task get load none of the server's modules (no Zod, pino, ioredis, drizzle, PGlite, MCP)", async () => {
    const { id } = await created("read at start-up");
    for (const args of [["--version"], ["task", "get", id, "--url", url]]) {
      const loaded = await modulesLoaded(...args);
      assert.ok(
        loaded.some((u) => u.endsWith("/dist/cli/main.js")),
        `traced: ${loaded.join(", ")}`,
      );
      const heavy = loaded.filter((u) => SERVER_SIDE.test(u));
      assert.deepEqual(heavy, [], `claudebench ${args.join(" ")} loaded ${heavy.join(", ")}`);
    }
  });
});
