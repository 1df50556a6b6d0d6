import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Redis } from "ioredis";
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

/** `extra` e.g. ["--no-db"] for the tests about Redis alone (PGlite's start costs seconds of CPU). */
async function startServe(
  dataDir: string,
  extra: string[] = [],
): Promise<{ cli: SpawnedCli; url: string; redisPid: number; redisUrl: string }> {
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
  const match = /redis-server \(pid (\d+)\) at (redis:\/\/[\d.:]+)/.exec(cli.stdout());
  assert.ok(match, `banner names the private redis-server: ${cli.stdout()}`);
  return { cli, url: `http://127.0.0.1:${port}`, redisPid: Number(match[1]), redisUrl: match[2] as string };
}

describe("claudebench serve (embedded Redis)", () => {
  it("serves HTTP and MCP, and SIGTERM stops it together with its redis-server", async () => {
    const dataDir = tempDir();
    const { cli, url, redisPid } = await startServe(dataDir);
    try {
      assert.match(cli.stdout(), /listening\s+http:\/\/127\.0\.0\.1:\d+/);
      assert.match(cli.stdout(), /AOF on/);
      assert.ok(isAlive(redisPid));

      // Degraded while PGlite starts in the background (seconds of WASM), then healthy.
      const deadline = Date.now() + 60_000;
      let status = "";
      while (status !== "healthy" && Date.now() < deadline) {
        const health = await fetch(`${url}/health`);
        assert.equal(health.status, 200);
        status = ((await health.json()) as { status: string }).status;
        if (status !== "healthy") await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(status, "healthy");

      const rpc = await fetch(`${url}/rpc`, {
        method: "POST",
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

  it("keeps its Redis data across a restart (AOF in the data directory)", async () => {
    const dataDir = tempDir();
    const first = await startServe(dataDir, ["--no-db"]);
    const before = new Redis(first.redisUrl);
    await before.set("e2e:probe", "kept");
    await before.quit();
    first.cli.child.kill("SIGTERM");
    assert.equal(await first.cli.exited, 0);

    // The data directory is free again: a second start succeeds and reloads what the first wrote.
    const second = await startServe(dataDir, ["--no-db"]);
    try {
      const afterRestart = new Redis(second.redisUrl);
      assert.equal(await afterRestart.get("e2e:probe"), "kept");
      await afterRestart.quit();
    } finally {
      second.cli.child.kill("SIGTERM");
      assert.equal(await second.cli.exited, 0);
    }
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
