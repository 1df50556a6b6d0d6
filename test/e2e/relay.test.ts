import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import type { DomainEvent } from "../../src/contract/events.js";
import { EventLog } from "../../src/domain/events/event-log.js";
import { compareStreamIds } from "../../src/domain/events/event-tail.js";
import { createKeys } from "../../src/storage/keys.js";
import { freePort, runCli, type SpawnedCli, waitFor } from "../helpers/cli.js";
import { startTestRedis, type TestRedis, uniquePrefix } from "../helpers/redis.js";

/** `claudebench relay` against a real `claudebench serve`, across a restart of the server. */

describe("claudebench relay", () => {
  let redis: TestRedis;
  let port: number;
  let url: string;
  let keyPrefix: string;
  const spawned: SpawnedCli[] = [];

  const serve = async (instanceId: string) => {
    const cli = runCli([
      "serve",
      "--port",
      String(port),
      "--redis-url",
      redis.url,
      "--key-prefix",
      keyPrefix,
      "--instance-id",
      instanceId,
      "--no-db",
      "--log-level",
      "warn",
    ]);
    spawned.push(cli);
    await waitFor(() => cli.stdout().includes("Press Ctrl-C to stop."), `serve to start (${cli.stderr()})`);
    return cli;
  };

  const relay = (...args: string[]) => {
    const cli = runCli(["relay", "--url", url, ...args], { ...process.env, NO_COLOR: "1" });
    spawned.push(cli);
    return cli;
  };

  const createTask = async (text: string): Promise<string> => {
    const res = await fetch(`${url}/task/create`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text }),
    });
    assert.equal(res.status, 200);
    return ((await res.json()) as { id: string }).id;
  };

  const jsonLines = (cli: SpawnedCli) =>
    cli
      .stdout()
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as DomainEvent);

  before(async () => {
    redis = await startTestRedis();
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
    keyPrefix = uniquePrefix("relay");
  });

  after(async () => {
    for (const cli of spawned) cli.child.kill("SIGKILL");
    await Promise.all(spawned.map((cli) => cli.exited));
    await redis?.stop();
  });

  it("says how to start the server when it cannot reach it", async () => {
    const cli = runCli(["relay", "--url", `http://127.0.0.1:${await freePort()}`]);
    assert.equal(await cli.exited, 1);
    assert.match(
      cli.stderr(),
      /cannot reach ClaudeBench at .*start it with `claudebench serve` or pass --url/,
    );
  });

  it("prints events as they happen, and resumes without duplicates after the server restarts", async () => {
    const server = await serve("relay-a");
    const human = relay("--filter", "task.");
    const json = relay("--json");
    for (const cli of [human, json]) {
      await waitFor(() => cli.stderr().includes(`connected to ${url}`), `relay to connect (${cli.stderr()})`);
    }

    const first = await createTask("first task");
    const line = new RegExp(
      `^\\d\\d:\\d\\d:\\d\\d\\.\\d{3}  task\\.created {16}  ${first} pending "first task" +relay-a$`,
      "m",
    );
    await waitFor(() => line.test(human.stdout()), `the human line for ${first} (${human.stdout()})`);
    await waitFor(
      () => jsonLines(json).some((e) => e.event === "task.created"),
      `the JSON line (${json.stdout()})`,
    );
    const created = jsonLines(json).find((e) => e.event === "task.created");
    assert.ok(created);
    assert.equal((created.payload.task as { id: string }).id, first);
    assert.equal(created.source, "relay-a");

    // the server goes away; another process sharing the Redis keeps emitting meanwhile
    server.child.kill("SIGKILL");
    await server.exited;
    for (const cli of [human, json]) {
      await waitFor(() => /reconnecting/.test(cli.stderr()), `relay to notice (${cli.stderr()})`);
    }
    const writer = new Redis(redis.url);
    const whileDown = await new EventLog(writer, createKeys(keyPrefix), "elsewhere", 100_000).emit(
      "task.noted",
      {
        taskId: first,
        note: "while the server was down",
      },
    );
    writer.disconnect();

    await serve("relay-b");
    for (const cli of [human, json]) {
      await waitFor(
        () => cli.stderr().includes(`reconnected to ${url}`),
        `relay to reconnect (${cli.stderr()})`,
      );
    }
    const second = await createTask("after the restart");
    await waitFor(
      () => human.stdout().includes(`${second} pending "after the restart"`),
      `the line for ${second} (${human.stdout()})`,
    );
    await waitFor(
      () => jsonLines(json).some((e) => (e.payload.task as { id?: string } | undefined)?.id === second),
      `the JSON line for ${second}`,
    );

    const events = jsonLines(json);
    const ids = events.map((e) => e.id);
    assert.equal(new Set(ids).size, ids.length, "no event twice");
    assert.deepEqual(ids, [...ids].sort(compareStreamIds), "in stream order");
    assert.ok(ids.includes(whileDown), "the event emitted while the server was down");
    assert.equal(events.filter((e) => e.event === "task.created").length, 2);

    const lines = human.stdout().trim().split("\n");
    assert.deepEqual(
      lines.map((l) => l.split(/\s+/)[1]),
      ["task.created", "task.noted", "task.created"],
      human.stdout(),
    );
    assert.match(lines[1] ?? "", /taskId=t-\d+ note=while the server was down +elsewhere$/);

    for (const cli of [human, json]) {
      cli.child.kill("SIGINT");
      assert.equal(await cli.exited, 0, cli.stderr());
    }
  });

  it("refuses a bad filter with the server's reason", async () => {
    const cli = relay("--task", "42");
    assert.equal(await cli.exited, 1);
    assert.match(cli.stderr(), /Invalid task filter "42": expected a task id like "t-42"/);
  });
});
