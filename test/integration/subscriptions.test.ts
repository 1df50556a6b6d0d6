import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { Redis } from "ioredis";
import type { DomainEvent } from "../../src/contract/events.js";
import { AppError } from "../../src/core/errors.js";
import { parseEventEntry } from "../../src/domain/events/event-log.js";
import { type DeliveryContext, defineSubscription } from "../../src/extensions/subscriptions/index.js";
import type { ServerServices } from "../../src/services.js";
import { type TestRedis, uniquePrefix, useTestRedis } from "../helpers/redis.js";
import { rpc, startTestServer } from "../helpers/server.js";

/**
 * Subscriptions and workflows in server processes of this test (several sharing one Redis):
 * delivery with an idempotence key, retries with backoff, dead letters and their API
 * (system.subscriptions*), and workflow files (validation, templates, reload, rate limit).
 * The same across spawned processes, with kill -9: test/e2e/subscriptions.test.ts.
 */

let redis: TestRedis;
let admin: Redis;
const temps: string[] = [];
useTestRedis((started) => {
  redis = started.server;
  admin = started.redis;
});
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(
  check: () => Promise<T | false | undefined | null>,
  what: string,
  ms = 15_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

async function call<T>(url: string, method: string, params: Record<string, unknown> = {}): Promise<T> {
  const { body } = await rpc(url, { jsonrpc: "2.0", id: 1, method, params });
  if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result as T;
}

function workflowDir(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), "cb-workflows-"));
  temps.push(dir);
  writeWorkflows(dir, files);
  return dir;
}

function writeWorkflows(dir: string, files: Record<string, unknown>): void {
  for (const [name, content] of Object.entries(files))
    writeFileSync(join(dir, name), typeof content === "string" ? content : JSON.stringify(content));
}

interface Seen {
  event: DomainEvent;
  deliveryId: string;
  attempt: number;
  at: number;
  server: string;
}

describe("subscriptions", () => {
  it("each matching event once across two servers, with its idempotence key; other events never", async () => {
    const keyPrefix = uniquePrefix("sub");
    const seen: Seen[] = [];
    const sub = (server: string) =>
      defineSubscription({
        name: "count",
        events: ["demo.*"],
        filter: (e) => e.payload.skip !== true,
        handle: async (event, ctx: DeliveryContext) => {
          seen.push({ event, deliveryId: ctx.deliveryId, attempt: ctx.attempt, at: Date.now(), server });
        },
      });
    const a = await startTestServer({
      redisUrl: redis.url,
      keyPrefix,
      instanceId: "a",
      subscriptions: [sub("a")],
    });
    const b = await startTestServer({
      redisUrl: redis.url,
      keyPrefix,
      instanceId: "b",
      subscriptions: [sub("b")],
    });
    try {
      const emit = a.dispatcher.kernel.emit;
      const ids: string[] = [];
      for (let i = 0; i < 200; i++) {
        ids.push(await (i % 2 ? a : b).dispatcher.kernel.emit("demo.tick", { i }));
        if (i % 10 === 0) await emit("other.tick", { i });
        if (i % 20 === 0) await emit("demo.tick", { i, skip: true });
      }
      await until(async () => seen.length >= 200, "200 deliveries");
      await sleep(300);
      assert.equal(seen.length, 200);
      assert.deepEqual(seen.map((s) => s.event.id).sort(), [...ids].sort());
      for (const s of seen) {
        assert.equal(s.deliveryId, `count:${s.event.id}`);
        assert.equal(s.attempt, 1);
      }
      // Other events (a server taking leadership: leader.elected) may still arrive: the group
      // catches up with them too.
      const subscriptions = await until(async () => {
        const listed = await call<{ subscriptions: Record<string, unknown>[] }>(
          a.url,
          "system.subscriptions",
        );
        return listed.subscriptions[0]?.lag === 0 && listed.subscriptions;
      }, "the subscription to catch up with the stream");
      assert.equal(subscriptions.length, 1);
      assert.equal(subscriptions[0]?.name, "count");
      assert.equal(subscriptions[0]?.source, "startServer");
      assert.equal(subscriptions[0]?.pending, 0);
      assert.equal(subscriptions[0]?.deadLetters, 0);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("a subscriber publishes its own events with ctx.emit and reads the server's services", async () => {
    const keyPrefix = uniquePrefix("sub");
    const server = await startTestServer({
      redisUrl: redis.url,
      keyPrefix,
      subscriptions: [
        defineSubscription<ServerServices>({
          name: "echo",
          events: ["demo.ping"],
          handle: async (event, ctx) => {
            await ctx.emit("demo.pong", { of: event.id, server: ctx.services.instanceId });
          },
        }),
      ],
    });
    try {
      const ping = await server.dispatcher.kernel.emit("demo.ping", {});
      const pong = await until(async () => {
        const entries = (await admin.xrange(server.keys.events(), "-", "+")) as [string, string[]][];
        return entries.map((entry) => parseEventEntry(entry)).find((e) => e?.event === "demo.pong");
      }, "the subscriber's own event");
      assert.deepEqual(pong.payload, { of: ping, server: server.instanceId });
    } finally {
      await server.close();
    }
  });

  it("a failing delivery: retried with exponential backoff, then parked with its error; retry and drop", async () => {
    let failing = true;
    const attempts: Seen[] = [];
    const sub = defineSubscription({
      name: "flaky",
      events: ["demo.fail"],
      maxAttempts: 4,
      backoff: { baseMs: 100, maxMs: 1000 },
      handle: async (event, ctx) => {
        attempts.push({
          event,
          deliveryId: ctx.deliveryId,
          attempt: ctx.attempt,
          at: Date.now(),
          server: "a",
        });
        if (failing) throw new AppError("UNAVAILABLE", `down for ${event.payload.n}`);
      },
    });
    const server = await startTestServer({ redisUrl: redis.url, subscriptions: [sub] });
    try {
      const first = await server.dispatcher.kernel.emit("demo.fail", { n: 1 });
      const dead = await until(async () => {
        const r = await call<{ total: number; letters: Record<string, unknown>[] }>(
          server.url,
          "system.subscriptions.dead_letters",
          { name: "flaky" },
        );
        return r.total === 1 && r;
      }, "the dead letter");
      assert.deepEqual(
        attempts.map((a) => a.attempt),
        [1, 2, 3, 4],
      );
      for (let i = 1; i < attempts.length; i++) {
        const gap = (attempts[i]?.at ?? 0) - (attempts[i - 1]?.at ?? 0);
        assert.ok(gap >= 100 * 2 ** (i - 1) - 5, `wait before attempt ${i + 1} was ${gap} ms`);
      }
      const letter = dead.letters[0] as { id: string; error: unknown; attempts: number; event: DomainEvent };
      assert.equal(letter.id, first);
      assert.deepEqual(letter.error, { code: "UNAVAILABLE", message: "down for 1" });
      assert.equal(letter.attempts, 4);
      assert.equal(letter.event.payload.n, 1);
      const [summary] = (
        await call<{ subscriptions: Record<string, unknown>[] }>(server.url, "system.subscriptions")
      ).subscriptions;
      assert.equal(summary?.deadLetters, 1);
      assert.equal(summary?.pending, 0);
      assert.deepEqual(summary?.local, { delivered: 0, retried: 3, deadLettered: 1 });

      // Still failing: a retry keeps it, with the new attempt count.
      const again = await call<{ retried: number; failed: { id: string }[] }>(
        server.url,
        "system.subscriptions.retry",
        { name: "flaky" },
      );
      assert.deepEqual(again, {
        retried: 0,
        failed: [{ id: first, error: { code: "UNAVAILABLE", message: "down for 1" } }],
      });
      failing = false;
      assert.deepEqual(
        await call(server.url, "system.subscriptions.retry", { name: "flaky", ids: [first] }),
        {
          retried: 1,
          failed: [],
        },
      );
      assert.equal(attempts.at(-1)?.deliveryId, `flaky:${first}`, "the same idempotence key");
      assert.equal(attempts.at(-1)?.attempt, 6);
      assert.equal(
        (await call<{ total: number }>(server.url, "system.subscriptions.dead_letters", { name: "flaky" }))
          .total,
        0,
      );

      // Drop: by id or all, never both or neither.
      failing = true;
      await server.dispatcher.kernel.emit("demo.fail", { n: 2 });
      await server.dispatcher.kernel.emit("demo.fail", { n: 3 });
      await until(
        async () =>
          (await call<{ total: number }>(server.url, "system.subscriptions.dead_letters", { name: "flaky" }))
            .total === 2,
        "two dead letters",
      );
      const bad = await rpc(server.url, {
        jsonrpc: "2.0",
        id: 1,
        method: "system.subscriptions.drop",
        params: { name: "flaky" },
      });
      assert.equal(bad.body.error.code, -32602);
      assert.deepEqual(await call(server.url, "system.subscriptions.drop", { name: "flaky", all: true }), {
        dropped: 2,
      });
      const unknown = await rpc(server.url, {
        jsonrpc: "2.0",
        id: 1,
        method: "system.subscriptions.retry",
        params: { name: "nope" },
      });
      assert.equal(unknown.body.error.data.code, "NOT_FOUND");
    } finally {
      await server.close();
    }
  });

  it("defineSubscription refuses a bad definition with its reason", () => {
    const handle = async () => undefined;
    assert.throws(() => defineSubscription({ name: "Bad Name", events: ["x"], handle }), /name must be/);
    assert.throws(() => defineSubscription({ name: "ok", events: [], handle }), /events must list/);
    assert.throws(
      () => defineSubscription({ name: "ok", events: ["x"], maxAttempts: 0, handle }),
      /maxAttempts/,
    );
    assert.throws(
      () => defineSubscription({ name: "ok", events: ["x"], backoff: { baseMs: 10, maxMs: 1 }, handle }),
      /backoff/,
    );
  });
});

describe("workflows", () => {
  const record = (list: string, extra: Record<string, unknown> = {}) => ({
    method: "test.record",
    // Inside text: a template alone would give the number itself, which test.record refuses.
    params: { list, value: "#{{payload.n}}", ...extra },
  });

  it("one clear error per bad file; the good ones run; templates fill params from the event", async () => {
    const dir = workflowDir({
      "a-good.json": {
        name: "good",
        on: "demo.*",
        where: { "payload.kind": { ne: "ignored" }, "payload.n": { exists: true } },
        call: {
          method: "test.record",
          params: {
            list: "good",
            value: "{{name}} #{{payload.n}} by {{delivery.id}} at {{delivery.attempt}}",
          },
        },
      },
      "b-json.json": "{ not json",
      "c-schema.json": { name: "c", on: "demo.*", call: { method: "test.record" }, extra: 1 },
      "d-method.json": { name: "d", on: "demo.*", call: { method: "nothing.here" } },
      "e-template.json": {
        name: "e",
        on: "demo.*",
        call: { method: "test.record", params: { list: "{{paylod.n}}" } },
      },
      "f-clash.json": { name: "good", on: "x", call: { method: "test.record" } },
      "g-off.json": { name: "off", enabled: false, on: "demo.*", call: record("off") },
      "notes.txt": "not a workflow",
    });
    const server = await startTestServer({
      redisUrl: redis.url,
      overrides: { workflowsDir: dir, diagnostics: true },
    });
    try {
      const report = await server.reloadWorkflows();
      assert.deepEqual(report.loaded, ["good"]);
      assert.deepEqual(
        report.problems.map((p) => [p.file.slice(dir.length + 1), p.message.split(":")[0]]),
        [
          ["b-json.json", "not valid JSON"],
          ["c-schema.json", "Unrecognized key"],
          ["d-method.json", "workflow d"],
          ["e-template.json", "workflow e"],
          ["f-clash.json", "workflow good"],
        ],
      );
      assert.match(
        report.problems[2]?.message ?? "",
        /call\.method nothing\.here is not a method of this server/,
      );
      assert.match(report.problems[3]?.message ?? "", /unknown template \{\{paylod\.n\}\}/);
      assert.match(report.problems[4]?.message ?? "", /already used by .*a-good\.json/);

      const emit = server.dispatcher.kernel.emit;
      const id = await emit("demo.one", { n: 1 });
      await emit("demo.two", { n: 2, kind: "ignored" });
      await emit("demo.three", {});
      const list = server.config.keyPrefix;
      const key = `${list}:test:record:good`;
      await until(async () => (await admin.llen(key)) === 1, "the workflow's call");
      await sleep(200);
      assert.deepEqual(await admin.lrange(key, 0, -1), [`demo.one #1 by good:${id} at 1`]);
    } finally {
      await server.close();
    }
  });

  it("reloads: a changed file replaces its workflow, a removed one stops; rate limit skips the excess", async () => {
    const dir = workflowDir({ "w.json": { name: "w", on: "demo.*", call: record("w1") } });
    const server = await startTestServer({
      redisUrl: redis.url,
      overrides: { workflowsDir: dir, diagnostics: true },
    });
    const key = (list: string) => `${server.config.keyPrefix}:test:record:${list}`;
    try {
      const emit = server.dispatcher.kernel.emit;
      await emit("demo.x", { n: 1 });
      await until(async () => (await admin.llen(key("w1"))) === 1, "w1");
      writeWorkflows(dir, {
        "w.json": { name: "w", on: "demo.*", call: record("w2"), rateLimit: { max: 2, windowMs: 60_000 } },
      });
      assert.deepEqual((await server.reloadWorkflows()).loaded, ["w"]);
      for (let n = 2; n <= 6; n++) await emit("demo.x", { n });
      await until(async () => (await admin.llen(key("w2"))) === 2, "w2");
      await until(async () => {
        const [s] = (
          await call<{ subscriptions: { lag: number; local: { delivered: number } }[] }>(
            server.url,
            "system.subscriptions",
          )
        ).subscriptions;
        return s?.lag === 0 && s.local.delivered === 5;
      }, "every event handled");
      assert.deepEqual(
        await admin.lrange(key("w2"), 0, -1),
        ["#2", "#3"],
        "two calls per window, the rest skipped",
      );
      assert.equal(await admin.llen(key("w1")), 1, "the old version stopped");
      rmSync(join(dir, "w.json"));
      assert.deepEqual((await server.reloadWorkflows()).loaded, []);
      await emit("demo.x", { n: 7 });
      await sleep(300);
      assert.equal(await admin.llen(key("w2")), 2);
      assert.deepEqual(
        (await call<{ subscriptions: unknown[] }>(server.url, "system.subscriptions")).subscriptions,
        [],
      );
    } finally {
      await server.close();
    }
  });
});
