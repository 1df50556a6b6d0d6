import assert from "node:assert/strict";
import { createServer, get, type Server as HttpServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import type { JsonRpcSuccess } from "../../src/contract/jsonrpc.js";
import type { Task } from "../../src/contract/tasks.js";
import { createLogger } from "../../src/core/logger.js";
import { sessionInstanceId } from "../../src/domain/coordination/identity.js";
import { EventLog } from "../../src/domain/events/event-log.js";
import { EventTail } from "../../src/domain/events/event-tail.js";
import { builtinHandlers } from "../../src/handlers/index.js";
import { createKeys } from "../../src/storage/keys.js";
import { LiveEventBudget } from "../../src/transports/event-budget.js";
import { CLOSE_GOING_AWAY, CLOSE_TOO_SLOW, EventSockets } from "../../src/transports/websocket.js";
import { call } from "../helpers/cluster.js";
import { testHandlers } from "../helpers/handlers.js";
import { startTestRedis, type TestRedis, uniquePrefix } from "../helpers/redis.js";
import { post, rpc, startTestServer } from "../helpers/server.js";
import { SseReader } from "../helpers/sse.js";
import { WsReader } from "../helpers/ws.js";

/**
 * Live events over WebSocket (GET /ws) and SSE (GET /events): filters, resume, auth, flow
 * control, and task events carrying the task typed as task.get answers it (numbers as
 * numbers, times as ISO 8601, metadata parsed), not the Redis hash the queue scripts store.
 */

type Server = Awaited<ReturnType<typeof startTestServer>>;

const handlers = [...builtinHandlers, ...testHandlers];
const TOKEN = "live-events-test-token-0123456789";

async function emit(server: Server, event: string, payload: Record<string, unknown> = {}): Promise<string> {
  const res = await rpc(
    server.url,
    { jsonrpc: "2.0", id: 1, method: "test.emit", params: { event, payload } },
    server.config.authToken ? { authorization: `Bearer ${server.config.authToken}` } : {},
  );
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return ((res.body as JsonRpcSuccess).result as { id: string }).id;
}

const wsUrl = (server: { url: string }, query = "") => `${server.url.replace(/^http/, "ws")}/ws${query}`;

function byStreamId(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split("-").map(Number);
  const [bMs = 0, bSeq = 0] = b.split("-").map(Number);
  return aMs - bMs || aSeq - bSeq;
}

type TaskEvent = { id: string; event: string; payload: Record<string, unknown> & { task: Task } };
type Expected = [event: string, task: "before" | "after"][];

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/**
 * Steps through task transitions on one SSE stream: a step makes one call and checks the
 * events it caused, in order, each one's task against task.get's answer right before or right
 * after the call (null once the task is gone).
 */
function stepper(url: string, stream: SseReader) {
  const get = (id: string) => call<Task>(url, "task.get", { id }).catch(() => null);
  let seen = 0;
  return async (id: string | null, act: () => Promise<unknown>, expected: Expected): Promise<TaskEvent[]> => {
    const before = id ? await get(id) : null;
    const result = await act();
    const after = await get(id ?? (result as Task).id);
    await stream.waitFor(seen + expected.length, 10_000);
    const fresh = stream.events<TaskEvent>().slice(seen);
    seen += fresh.length;
    assert.deepEqual(
      fresh.map((e) => e.event),
      expected.map(([event]) => event),
    );
    for (const [i, [event, when]] of expected.entries()) {
      assert.deepEqual(fresh[i]?.payload.task, when === "before" ? before : after, `${event}'s task`);
    }
    return fresh;
  };
}

/** Rejection of WsReader.open: the refused upgrade's status and JSON body. */
async function refusedUpgrade(
  url: string,
  options = {},
): Promise<{ status: number; body: { error: { code: string; message: string } } }> {
  try {
    const reader = await WsReader.open(url, options);
    await reader.close();
  } catch (err) {
    const { status, body } = err as { status?: number; body?: string };
    assert.ok(status, `refused with an HTTP status: ${err}`);
    return { status, body: JSON.parse(body ?? "null") };
  }
  throw new Error(`the upgrade to ${url} was accepted`);
}

describe("live events over WebSocket and SSE", () => {
  let redis: TestRedis;
  let first: Server;
  let second: Server;
  let secured: Server;
  const readers: { close(): Promise<void> }[] = [];

  const ws = async (server: Server, query = "", options = {}) => {
    const reader = await WsReader.open(wsUrl(server, query), options);
    readers.push(reader);
    return reader;
  };
  const sse = async (server: Server, query = "", headers: Record<string, string> = {}) => {
    const reader = await SseReader.open(`${server.url}/events${query}`, headers);
    readers.push(reader);
    return reader;
  };

  before(async () => {
    redis = await startTestRedis();
    const keyPrefix = uniquePrefix("live");
    [first, second, secured] = await Promise.all([
      startTestServer({ redisUrl: redis.url, keyPrefix, instanceId: "live-1", handlers }),
      startTestServer({ redisUrl: redis.url, keyPrefix, instanceId: "live-2", handlers }),
      startTestServer({ redisUrl: redis.url, authToken: TOKEN, instanceId: "live-sec", handlers }),
    ]);
  });

  after(async () => {
    await Promise.all(readers.map((r) => r.close().catch(() => undefined)));
    await Promise.all([first?.close(), second?.close(), secured?.close()]);
    await redis?.stop();
  });

  it("delivers to each WebSocket only the events its filters match", async () => {
    const [byPrefix, bySession, byInstance, byTask, both] = await Promise.all([
      ws(first, "?prefix=wsf.a"),
      ws(second, "?prefix=wsf.&session=s-1"),
      ws(first, "?prefix=wsf.&instance=w-1"),
      ws(second, "?prefix=wsf.&task=t-7,t-8"),
      ws(first, "?prefix=wsf.&session=s-1&task=t-7"),
    ]);
    const payloads: [string, Record<string, unknown>][] = [
      ["wsf.a.x", { n: 1, sessionId: "s-1" }],
      ["wsf.b", { n: 2, instanceId: "w-1" }],
      // a task event as subscribers get it: the typed task, a todo's session in its metadata
      ["wsf.b", { n: 3, task: { id: "t-7", assignedTo: "w-1", metadata: { sessionId: "s-1" } } }],
      ["wsf.a.y", { n: 4, workerId: "w-2", task: { id: "t-8" } }],
      ["wsf.b", { n: 5, instance: { id: "w-1", sessionId: "s-2" } }],
      // the instance ClaudeBench registers for session s-1
      ["wsf.b", { n: 6, sessionId: "s-2", instanceId: "cc-s-1" }],
      ["wsf.b", { n: 7, previousAssignment: "w-1", taskId: "t-8" }],
      ["other.z", { n: 8, sessionId: "s-1", instanceId: "w-1", task: { id: "t-7" } }],
      ["wsf.a.end", { n: 9, sessionId: "s-1", instanceId: "w-1", taskId: "t-7" }],
    ];
    for (const [event, payload] of payloads) await emit(first, event, payload);

    // events reach a subscriber in stream order: once n=9 is in, nothing before it can still come
    const expected: [WsReader, number[]][] = [
      [byPrefix, [1, 4, 9]],
      [bySession, [1, 3, 6, 9]],
      [byInstance, [2, 3, 5, 7, 9]],
      [byTask, [3, 4, 7, 9]],
      [both, [3, 9]],
    ];
    for (const [reader, ns] of expected) {
      await reader.waitFor(ns.length);
      assert.deepEqual(
        reader.events.map((e) => e.payload.n),
        ns,
      );
      for (const e of reader.events) {
        assert.match(e.id, /^\d+-\d+$/);
        assert.equal(e.source, "live-1");
        assert.equal(typeof e.ts, "number");
      }
    }
  });

  it("matches real task events by task and by the worker that holds them", async () => {
    const worker = uniquePrefix("w");
    const byWorker = await ws(first, `?instance=${worker}`);
    const created = await post(second.url, "/task/create", { text: "filter me" });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const id = created.body.id as string;
    const byTask = await sse(second, `?task=${id}&lastEventId=0-0`);
    const claimed = await post(first.url, "/task/claim", { workerId: worker });
    assert.equal(claimed.body.taskId, id, JSON.stringify(claimed.body));
    const done = await post(first.url, "/task/complete", { id, workerId: worker, result: { ok: true } });
    assert.equal(done.status, 200, JSON.stringify(done.body));

    await byWorker.waitFor(2);
    assert.deepEqual(
      byWorker.events.map((e) => e.event),
      ["task.claimed", "task.completed"],
    );
    await byTask.waitFor(3);
    assert.deepEqual(
      byTask.events().map((e) => [e.event, (e.payload.task as { id: string }).id]),
      [
        ["task.created", id],
        ["task.claimed", id],
        ["task.completed", id],
      ],
    );
  });

  it("gives every task event the task as task.get answers it at that transition", async () => {
    const stream = await sse(first, "?prefix=task.");
    const step = stepper(first.url, stream);
    const [created] = await step(
      null,
      () =>
        call(first.url, "task.create", {
          text: "typed events",
          priority: 75,
          description: "shows every field",
          channel: "ev",
          maxAttempts: 2,
          requires: ["node"],
          metadata: { owner: "ann", tags: ["a", 1] },
        }),
      [["task.created", "after"]],
    );
    // the shape, spelled out: what the stored hash holds as text
    const task = created?.payload.task as Task;
    const id = task.id;
    assert.equal(task.priority, 75);
    assert.equal(task.attempts, 0);
    assert.equal(task.maxAttempts, 2);
    assert.match(task.createdAt, ISO);
    assert.match(task.updatedAt, ISO);
    assert.deepEqual(task.requires, ["node"]);
    assert.deepEqual(task.metadata, { owner: "ann", tags: ["a", 1] });
    assert.ok(!("seq" in task) && !("m:owner" in task), "no field of the hash itself");

    const worker = { workerId: "w-1", capabilities: ["node"], channel: "ev" }; // this test's tasks only
    const [updated] = await step(
      id,
      () => call(first.url, "task.update", { id, updates: { priority: 80, metadata: { owner: "bob" } } }),
      [["task.updated", "after"]],
    );
    assert.deepEqual(updated?.payload.changed, ["priority", "metadata.owner"], "paths in the task");
    const [claimed] = await step(id, () => call(first.url, "task.claim", worker), [
      ["task.claimed", "after"],
    ]);
    assert.equal(typeof claimed?.payload.task.leaseToken, "number");
    assert.match(String(claimed?.payload.task.leaseExpiresAt), ISO);
    await step(id, () => call(first.url, "task.release", { id, workerId: "w-1" }), [
      ["task.unassigned", "after"],
    ]);
    await step(id, () => call(first.url, "task.assign", { taskId: id, instanceId: "w-2" }), [
      ["task.assigned", "after"],
    ]);
    const [, dead] = await step(
      id,
      () => call(first.url, "task.fail", { id, workerId: "w-2", error: "broke", retryable: false }),
      [
        ["task.failed", "before"], // recorded by the event after it
        ["task.dead_lettered", "after"],
      ],
    );
    assert.equal(dead?.payload.task.deadLettered, true);
    await step(id, () => call(first.url, "task.retry", { id }), [["task.retried", "after"]]);
    await step(id, () => call(first.url, "task.claim", worker), [["task.claimed", "after"]]);
    const [completed] = await step(
      id,
      () => call(first.url, "task.complete", { id, workerId: "w-1", result: { ok: 1 } }),
      [["task.completed", "after"]],
    );
    assert.deepEqual(completed?.payload.task.result, { ok: 1 });
    assert.match(String(completed?.payload.task.completedAt), ISO);
    await step(id, () => call(first.url, "task.delete", { id }), [["task.deleted", "before"]]);

    // a retryable failure: pending again after a backoff, due at runAfter (= the event's retryAt)
    const [again] = await step(
      null,
      () => call(first.url, "task.create", { text: "flaky", channel: "ev", maxAttempts: 3 }),
      [["task.created", "after"]],
    );
    const other = again?.payload.task.id as string;
    await step(other, () => call(first.url, "task.claim", { workerId: "w-3", channel: "ev" }), [
      ["task.claimed", "after"],
    ]);
    const [, retrying] = await step(
      other,
      () => call(first.url, "task.fail", { id: other, workerId: "w-3", error: "flaky" }),
      [
        ["task.failed", "before"],
        ["task.retrying", "after"],
      ],
    );
    assert.match(String(retrying?.payload.task.runAfter), ISO);
    assert.equal(retrying?.payload.retryAt, retrying?.payload.task.runAfter);
    await step(other, () => call(first.url, "task.cancel", { id: other }), [["task.cancelled", "after"]]);
  });

  it("finds a real task by the session its metadata names", async () => {
    const stream = await sse(first, "?prefix=task.&session=s-typed");
    await call(first.url, "task.create", { text: "someone else's", metadata: { sessionId: "s-other" } });
    const mine = await call<Task>(first.url, "task.create", {
      text: "mine",
      metadata: { sessionId: "s-typed" },
    });
    await stream.waitFor(1, 10_000);
    const [event] = stream.events<TaskEvent>();
    assert.equal(event?.payload.task.id, mine.id);
    assert.deepEqual(event?.payload.task.metadata, { sessionId: "s-typed" });
  });

  it("resumes a WebSocket with lastEventId: exactly the missed events, in order, none twice", async () => {
    const before = await ws(second, "?prefix=wsr.");
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) seen.push(await emit(first, "wsr.e", { i }));
    await before.waitFor(3);
    const lastSeen = before.events.at(-1)?.id as string;
    assert.equal(lastSeen, seen[2]);
    await before.close();

    const missed: string[] = [];
    for (let i = 3; i < 8; i++) missed.push(await emit(first, "wsr.e", { i }));
    await emit(first, "elsewhere.e", { i: -1 }); // filtered out on replay too
    // more, emitted while the client reconnects (replay and live feed meet here)
    const during = Promise.all(
      Array.from({ length: 20 }, (_, k) => emit(k % 2 ? first : second, "wsr.e", { i: 8 + k })),
    );
    const again = await ws(second, `?prefix=wsr.&lastEventId=${lastSeen}`);
    const duringIds = await during;
    const later = await emit(second, "wsr.e", { i: 28 });

    const expected = [...missed, ...duringIds, later].sort(byStreamId);
    const events = await again.waitFor(expected.length);
    const got = events.map((e) => e.id);
    assert.equal(new Set(got).size, got.length, "a duplicate event");
    assert.deepEqual(got, expected);
    assert.equal(got.length, 26);
    // the concurrent emits land in any order; together they are i = 3..28
    assert.deepEqual(
      events.map((e) => e.payload.i as number).sort((x, y) => x - y),
      Array.from({ length: 26 }, (_, k) => k + 3),
    );
  });

  it("resumes SSE with Last-Event-ID under a session filter", async () => {
    const before = await sse(first, "?session=s-res");
    const a = await emit(second, "sser.e", { sessionId: "s-res", i: 0 });
    await emit(second, "sser.e", { sessionId: "s-other", i: -1 });
    const b = await emit(second, "sser.e", { sessionId: "s-res", i: 1 });
    await before.waitFor(2);
    assert.deepEqual(
      before.messages.map((m) => m.id),
      [a, b],
    );
    await before.close();

    const missed: string[] = [];
    for (let i = 2; i < 6; i++) {
      missed.push(await emit(first, "sser.e", { sessionId: "s-res", i }));
      await emit(first, "sser.e", { sessionId: "s-other", i: -1 });
    }
    const again = await sse(first, "?session=s-res", { "last-event-id": b });
    const live = await emit(second, "sser.e", { sessionId: "s-res", i: 6 });
    const messages = await again.waitFor(5);
    assert.deepEqual(
      messages.map((m) => m.id),
      [...missed, live],
    );
    assert.deepEqual(
      again.events().map((e) => e.payload.i),
      [2, 3, 4, 5, 6],
    );
  });

  it("requires the token on the upgrade: 401 without, open with the header or ?token=", async () => {
    const missing = await refusedUpgrade(wsUrl(secured));
    assert.equal(missing.status, 401);
    assert.equal(missing.body.error.code, "UNAUTHORIZED");
    const wrong = await refusedUpgrade(wsUrl(secured), {
      headers: { authorization: "Bearer not-the-token-at-all" },
    });
    assert.equal(wrong.status, 401);
    assert.equal((await refusedUpgrade(wsUrl(secured, "?token=nope"))).status, 401);

    const withHeader = await ws(secured, "?prefix=auth.", { headers: { authorization: `Bearer ${TOKEN}` } });
    const withQuery = await ws(secured, `?prefix=auth.&token=${TOKEN}`);
    const id = await emit(secured, "auth.e");
    for (const reader of [withHeader, withQuery]) {
      const [event] = await reader.waitFor(1);
      assert.equal(event?.id, id);
    }
    // SSE keeps the header: no token in its URL
    const sseRes = await fetch(`${secured.url}/events?token=${TOKEN}`);
    assert.equal(sseRes.status, 401);
    await sseRes.body?.cancel();
  });

  it("answers 400 with the reason for a bad filter, on both endpoints", async () => {
    const cases: [string, RegExp][] = [
      ["?task=42", /task filter "42".*t-42/],
      ["?instance=a%20b", /instance filter/],
      ["?session=a,,b%20c", /session filter "b c"/],
      ["?prefix=task.*", /prefix filter/],
      ["?lastEventId=yesterday", /last event id/],
      ["?prefx=task.", /Unknown parameter "prefx"/],
    ];
    for (const [query, message] of cases) {
      const refused = await refusedUpgrade(wsUrl(first, query));
      assert.equal(refused.status, 400, query);
      assert.equal(refused.body.error.code, "VALIDATION");
      assert.match(refused.body.error.message, message);

      const res = await fetch(`${first.url}/events${query}`);
      assert.equal(res.status, 400, query);
      const body = (await res.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, "VALIDATION");
      assert.match(body.error.message, message);
    }
    const badHeader = await fetch(`${first.url}/events`, { headers: { "last-event-id": "x" } });
    assert.equal(badHeader.status, 400);
    await badHeader.body?.cancel();
    assert.equal((await refusedUpgrade(`${first.url.replace("http", "ws")}/elsewhere`)).status, 404);
  });

  it("closes open sockets with 1001 when the server shuts down", async () => {
    const server = await startTestServer({ redisUrl: redis.url, handlers });
    const reader = await WsReader.open(wsUrl(server));
    await server.close();
    const closed = await reader.waitForClose();
    assert.equal(closed.code, CLOSE_GOING_AWAY);
  });
});

describe("live-event flow control", () => {
  const BOUND = 64 * 1024;
  const BIG = 200_000; // bytes per event
  const COUNT = 80; // 16 MB in all: more than the loopback socket buffers hold
  let redis: TestRedis;
  let server: Server;
  let writer: Redis;
  let log: EventLog;

  before(async () => {
    redis = await startTestRedis();
    server = await startTestServer({
      redisUrl: redis.url,
      handlers,
      overrides: { eventClientBufferBytes: BOUND },
    });
    writer = new Redis(redis.url);
    log = new EventLog(writer, createKeys(server.config.keyPrefix), "writer", 100_000);
  });

  after(async () => {
    writer?.disconnect();
    await server?.close();
    await redis?.stop();
  });

  const flood = async (event: string) => {
    const blob = "x".repeat(BIG);
    const ids: string[] = [];
    for (let i = 0; i < COUNT; i++) ids.push(await log.emit(event, { i, blob }));
    return ids;
  };

  it("closes a WebSocket that stops reading with 1013, and replays the rest at its pace", async () => {
    const reader = await WsReader.open(wsUrl(server, "?prefix=flood.ws"));
    reader.socket.pause();
    const ids = await flood("flood.ws");
    // the server's tail may still be delivering the flood: let it reach the bound first
    await new Promise((resolve) => setTimeout(resolve, 1000));
    reader.socket.resume();
    const closed = await reader.waitForClose(15_000);
    assert.equal(closed.code, CLOSE_TOO_SLOW);
    assert.match(closed.reason, /too slow.*lastEventId/);
    const got = reader.events.length;
    assert.ok(got < COUNT, `cut off before the end (${got} of ${COUNT})`);
    assert.deepEqual(
      reader.events.map((e) => e.id),
      ids.slice(0, got),
    );

    // the replay is paced by the client's reading, so far more than the bound arrives whole
    const lastId = got > 0 ? (reader.events.at(-1)?.id as string) : "0-0";
    const resumed = await WsReader.open(wsUrl(server, `?prefix=flood.ws&lastEventId=${lastId}`));
    try {
      const events = await resumed.waitFor(COUNT - got, 15_000);
      assert.deepEqual(
        events.map((e) => e.id),
        ids.slice(got),
      );
      assert.equal(resumed.closed, null);
    } finally {
      await resumed.close();
    }
  });

  it("cuts an SSE response that stops reading", async () => {
    const res = await new Promise<IncomingMessage>((resolve, reject) =>
      get(`${server.url}/events?prefix=flood.sse`, resolve).on("error", reject),
    );
    assert.equal(res.statusCode, 200);
    // wait for the preamble, so the subscription is live
    await new Promise((resolve) => res.once("data", resolve));
    res.pause();
    await flood("flood.sse");
    await new Promise((resolve) => setTimeout(resolve, 1000));
    let body = "";
    res.on("data", (chunk: Buffer) => {
      body += chunk;
    });
    const ended = new Promise((resolve) => res.once("close", resolve));
    res.resume();
    await ended;
    assert.equal(res.complete, false, "the server cut the response");
    const frames = body.split("\n\n").filter((f) => f.includes("data:")).length;
    assert.ok(frames < COUNT, `cut off before the end (${frames} of ${COUNT})`);
  });
});

describe("WebSocket heartbeat", () => {
  let redis: TestRedis;
  let conn: Redis;
  let tail: EventTail;
  let sockets: EventSockets;
  let http: HttpServer;
  let url: string;

  before(async () => {
    redis = await startTestRedis();
    conn = new Redis(redis.url);
    tail = new EventTail(conn, createKeys(uniquePrefix("hb")), createLogger("error"));
    sockets = new EventSockets({
      tail,
      maxBufferedBytes: 1024 * 1024,
      budget: new LiveEventBudget(10, 8 * 1024 * 1024),
      log: createLogger("error"),
      authorize: () => true,
      sessionInstanceId,
      heartbeatMs: 100,
    });
    http = createServer();
    http.on("upgrade", (req, socket, head) =>
      sockets.upgrade(req, socket, head, new URL(req.url ?? "/", "http://localhost")),
    );
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/ws`;
  });

  after(async () => {
    await sockets?.close();
    await new Promise((resolve) => http?.close(resolve));
    await tail?.close();
    conn?.disconnect();
    await redis?.stop();
  });

  it("drops a client that stops answering pings and keeps one that answers", async () => {
    const silent = await WsReader.open(url, { autoPong: false });
    const answering = await WsReader.open(url);
    const dropped = await silent.waitForClose();
    assert.equal(dropped.code, 1006, "terminated without a close frame");
    // the answering client has been through the same heartbeats, and more
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(answering.closed, null);
    await answering.close();
  });
});
