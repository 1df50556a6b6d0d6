import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { freePort, runCli, waitFor } from "../helpers/cli.js";
import { startTestRedis, type TestRedis, uniquePrefix } from "../helpers/redis.js";

/** `claudebench serve --plugins DIR` as a user runs it: the built CLI, plugins outside the repo. */

const EXAMPLE = join(import.meta.dirname, "../../examples/plugins/hello.ts");

describe("claudebench serve --plugins", () => {
  let redis: TestRedis;
  let dir: string;

  before(async () => {
    redis = await startTestRedis();
    dir = mkdtempSync(join(tmpdir(), "cb-e2e-plugins-"));
  });

  after(async () => {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves the example plugin and names a broken file in its banner", async () => {
    copyFileSync(EXAMPLE, join(dir, "hello.ts"));
    writeFileSync(join(dir, "broken.js"), "export const = 1;\n");
    const port = await freePort();
    const cli = runCli([
      "serve",
      "--port",
      String(port),
      "--redis-url",
      redis.url,
      "--key-prefix",
      uniquePrefix("e2e"),
      "--no-db",
      "--log-level",
      "fatal",
      "--plugins",
      dir,
    ]);
    try {
      await waitFor(() => cli.stdout().includes("Press Ctrl-C to stop."), `serve to start: ${cli.stderr()}`);
      assert.match(cli.stdout(), new RegExp(`plugins\\s+${dir}: 1 handler\\(s\\) from 1 file\\(s\\)`));
      assert.match(
        cli.stdout(),
        new RegExp(`plugin error\\s+${join(dir, "broken.js")}: .*broken\\.js:1:\\d+`),
      );
      const reply = await fetch(`http://127.0.0.1:${port}/hello/greet`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "world" }),
      });
      assert.equal(reply.status, 200);
      assert.equal(((await reply.json()) as { greeting: string }).greeting, "Hello, world!");
    } finally {
      cli.child.kill("SIGTERM");
      assert.equal(await cli.exited, 0, `clean exit (stderr: ${cli.stderr()})`);
    }
  });

  it("refuses to start when the named plugin directory does not exist", async () => {
    const missing = join(dir, "no-such-dir");
    const cli = runCli(["serve", "--port", "0", "--redis-url", redis.url, "--no-db", "--plugins", missing]);
    assert.equal(await cli.exited, 1);
    assert.match(cli.stderr(), new RegExp(`claudebench: plugin directory ${missing} does not exist`));
  });
});
