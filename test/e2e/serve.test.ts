import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Redis } from "ioredis";
import { RedisRpcClient } from "../../src/client/redis-rpc.js";
import { findOnPath } from "../../src/storage/embedded-redis.js";
import { createKeys } from "../../src/storage/keys.js";
import { freePort, isAlive, runCli, type SpawnedCli, waitFor } from "../helpers/cli.js";

/** `claudebench serve` on the embedded default, as a user runs it: a real process, a real redis-server. */

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "cb-e2e-"));
  dirs.push(dir);
  return dir;
}

/** The private Redis' password, where the README tells users to find it. */
const passwordFile = (dataDir: string) => join(dataDir, "redis", "password");

/** `extra` e.g. ["--no-db"] for the tests about Redis alone (PGlite's start costs seconds of CPU). */
async function startServe(
  dataDir: string,
  extra: string[] = [],
): Promise<{ cli: SpawnedCli; url: string; redisPid: number; redisPort: number }> {
  const port = await freePort();
  const cli = runCli([
    "serve",
    "--port",
    String(port),
    "--data-dir",
    dataDir,
    "--log-level",
    "warn",
    ...extra,
  ]);
  await waitFor(
    () => cli.stdout().includes("Press Ctrl-C to stop."),
    `serve to start (stderr: ${cli.stderr()})`,
  );
  const match = /redis-server \(pid (\d+)\) at redis:\/\/127\.0\.0\.1:(\d+)/.exec(cli.stdout());
  assert.ok(match, `banner names the private redis-server: ${cli.stdout()}`);
  return { cli, url: `http://127.0.0.1:${port}`, redisPid: Number(match[1]), redisPort: Number(match[2]) };
}

/** How a user's own client reaches the private Redis: the password from the data directory. */
const privateRedisUrl = (dataDir: string, port: number) =>
  `redis://:${readFileSync(passwordFile(dataDir), "utf8").trim()}@127.0.0.1:${port}`;

/** Every process's command line that this user may read (redis-server's, its watchdog's, ...). */
function commandLines(): string[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((pid) => {
      try {
        return [readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ")];
      } catch {
        return []; // ended meanwhile
      }
    });
}

describe("claudebench serve (embedded Redis)", () => {
  it("serves HTTP and MCP, and SIGTERM stops it together with its redis-server", async () => {
    const dataDir = tempDir();
    const { cli, url, redisPid } = await startServe(dataDir);
    try {
      assert.match(cli.stdout(), /listening\s+http:\/\/127\.0\.0\.1:\d+/);
      assert.match(cli.stdout(), /AOF on/);
      assert.ok(isAlive(redisPid));

      // Healthy while the history store (PGlite's child process) starts in the background, as
      // it says (checks.database.starting); then its database answers too.
      type Health = { status: string; checks: { database: { ok: boolean; starting?: true } } };
      const deadline = Date.now() + 120_000;
      let health: Health | null = null;
      while (!health?.checks.database.ok && Date.now() < deadline) {
        if (health) await new Promise((r) => setTimeout(r, 200));
        const res = await fetch(`${url}/health`);
        assert.equal(res.status, 200);
        const answer = (await res.json()) as Health;
        if (!answer.checks.database.ok)
          assert.equal(answer.checks.database.starting, true, "said to be starting");
        health = answer;
      }
      assert.equal(health?.checks.database.ok, true, "the history store answers");
      assert.equal(health?.status, "healthy");

      const rpc = await fetch(`${url}/rpc`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "system.ping" }),
      });
      assert.equal(((await rpc.json()) as { result: { pong: boolean } }).result.pong, true);

      const client = new Client({ name: "e2e", version: "1.0.0" });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`)));
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === "system__health"));
      const called = await client.callTool({ name: "system__ping", arguments: {} });
      assert.equal((called.structuredContent as { pong: boolean }).pong, true);
      await client.close();
    } finally {
      cli.child.kill("SIGTERM");
    }
    assert.equal(await cli.exited, 0, `clean exit (stderr: ${cli.stderr()})`);
    assert.equal(isAlive(redisPid), false, "redis-server stopped with the server");
  });

  it("kill -9 of the server does not leave its redis-server running", async () => {
    const dataDir = tempDir();
    const { cli, redisPid } = await startServe(dataDir, ["--no-db"]);
    assert.ok(isAlive(redisPid));
    cli.child.kill("SIGKILL");
    await cli.exited;
    await waitFor(() => !isAlive(redisPid), "the orphaned redis-server to stop", 10_000);
  });

  it("kill -9 of the server does not leave its history store (PGlite's child process) running", async () => {
    const dataDir = tempDir();
    const { cli, url, redisPid } = await startServe(dataDir);
    const match = /PGlite in .* \(child process, pid (\d+)\) at 127\.0\.0\.1:\d+ \(password in (.*)\)/.exec(
      cli.stdout(),
    );
    assert.ok(match, `the banner names the store's process: ${cli.stdout()}`);
    const storePid = Number(match[1]);
    assert.equal(match[2], join(dataDir, "pglite", "password"));
    // Served and healthy before the store has answered: it starts in the background.
    const health = (await (await fetch(`${url}/health`)).json()) as { status: string };
    assert.notEqual(health.status, "unhealthy");
    cli.child.kill("SIGKILL");
    await cli.exited;
    await waitFor(() => !isAlive(redisPid), "the orphaned redis-server to stop", 10_000);
    // The child of the banner, or the one started after it created the cluster (first start).
    const storeRunning = () =>
      isAlive(storePid) ||
      commandLines().some((line) => line.includes("store-process") && line.includes(dataDir));
    await waitFor(() => !storeRunning(), "the orphaned history store to stop", 60_000);
  });

  it("keeps its Redis data across a restart (AOF in the data directory)", async () => {
    const dataDir = tempDir();
    const first = await startServe(dataDir, ["--no-db"]);
    let password: string;
    try {
      password = readFileSync(passwordFile(dataDir), "utf8");
      const before = new Redis(privateRedisUrl(dataDir, first.redisPort));
      await before.set("e2e:probe", "kept");
      await before.quit();
    } finally {
      first.cli.child.kill("SIGTERM");
      assert.equal(await first.cli.exited, 0);
    }

    // The data directory is free again: a second start succeeds and reloads what the first wrote,
    // behind the same password.
    const second = await startServe(dataDir, ["--no-db"]);
    try {
      assert.equal(readFileSync(passwordFile(dataDir), "utf8"), password);
      const afterRestart = new Redis(privateRedisUrl(dataDir, second.redisPort));
      assert.equal(await afterRestart.get("e2e:probe"), "kept");
      await afterRestart.quit();
    } finally {
      second.cli.child.kill("SIGTERM");
      assert.equal(await second.cli.exited, 0);
    }
  });

  it("keeps its private Redis (and so the request stream) closed to local clients without the password", async () => {
    const dataDir = tempDir();
    const { cli, redisPid, redisPort } = await startServe(dataDir, [
      "--no-db",
      "--auth-token",
      "e2e-token-0123456789abc",
      "--log-level",
      "debug", // every line the server may log, to look for the password in
    ]);
    // No ready check: it would fail on NOAUTH before our commands are even sent.
    const stranger = new Redis(redisPort, "127.0.0.1", {
      lazyConnect: true,
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
    });
    const keys = createKeys("cb");
    const request = JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "task.create",
      params: { text: "sneaked in" },
    });
    try {
      // Any local process can reach the port: without the password it can neither put a
      // request on the stream (which skips the auth token) nor read anything.
      await assert.rejects(stranger.xadd(keys.rpcRequests(), "*", "request", request), /NOAUTH/);
      await assert.rejects(stranger.xrange(keys.events(), "-", "+"), /NOAUTH/);
      await assert.rejects(stranger.get("anything"), /NOAUTH/);

      // Only we may read the password, and no command line shows it.
      assert.equal(statSync(passwordFile(dataDir)).mode & 0o777, 0o600);
      assert.equal(statSync(join(dataDir, "redis")).mode & 0o777, 0o700);
      const password = readFileSync(passwordFile(dataDir), "utf8").trim();
      assert.match(password, /^[0-9a-f]{64}$/);
      assert.ok(isAlive(redisPid));
      assert.deepEqual(
        commandLines().filter((line) => line.includes(password)),
        [],
        "no process carries the password in its command line",
      );

      // The documented ways in: a client given the password (here the Redis request client)
      // and redis-cli with REDISCLI_AUTH and the port file.
      const rpc = new RedisRpcClient(privateRedisUrl(dataDir, redisPort));
      try {
        const reply = await rpc.call("system.ping");
        assert.equal((reply as { result: { pong: boolean } }).result.pong, true);
      } finally {
        await rpc.close();
      }
      if (findOnPath("redis-cli")) {
        const port = readFileSync(join(dataDir, "redis", "port"), "utf8").trim();
        assert.equal(port, String(redisPort));
        const pong = execFileSync("redis-cli", ["-p", port, "ping"], {
          env: { ...process.env, REDISCLI_AUTH: password },
          encoding: "utf8",
        });
        assert.equal(pong.trim(), "PONG");
      }
    } finally {
      stranger.disconnect();
      cli.child.kill("SIGTERM");
    }
    assert.equal(await cli.exited, 0, `clean exit (stderr: ${cli.stderr()})`);
    const password = readFileSync(passwordFile(dataDir), "utf8").trim();
    assert.ok(!cli.stdout().includes(password), "the banner does not print the password");
    assert.ok(!cli.stderr().includes(password), "the logs do not carry the password");
  });

  it("refuses a second server on the same data directory with a clear message", async () => {
    const dataDir = tempDir();
    const first = await startServe(dataDir, ["--no-db"]);
    try {
      const second = runCli(["serve", "--port", String(await freePort()), "--data-dir", dataDir]);
      assert.equal(await second.exited, 1);
      assert.match(second.stderr(), /data directory .* is in use by process \d+/);
    } finally {
      first.cli.child.kill("SIGTERM");
      await first.cli.exited;
    }
  });

  it("says how to install redis-server when it is missing", async () => {
    const cli = runCli(["serve", "--port", String(await freePort()), "--data-dir", tempDir()], {
      ...process.env,
      PATH: dirname(process.execPath) === "/usr/bin" ? "/nonexistent" : dirname(process.execPath),
    });
    assert.equal(await cli.exited, 1);
    const lines = cli.stderr().trim().split("\n");
    assert.equal(lines.length, 1, cli.stderr());
    assert.match(lines[0] ?? "", /redis-server was not found on PATH.*apt-get install -y redis-server/);
  });

  it("refuses bad configuration with the setting's name and exit code 2", async () => {
    const cli = runCli(["serve", "--host", "0.0.0.0", "--data-dir", tempDir()]);
    assert.equal(await cli.exited, 2);
    assert.match(cli.stderr(), /requires AUTH_TOKEN/);
  });
});
