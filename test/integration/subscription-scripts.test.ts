import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Redis } from "ioredis";
import { pushInbox, readInbox } from "../../src/domain/sessions/inbox.js";
import { SubscriptionStore } from "../../src/extensions/subscriptions/store.js";
import { createKeys, type Keys } from "../../src/storage/keys.js";
import { uniquePrefix, useTestRedis } from "../helpers/redis.js";

/**
 * The subscription and inbox scripts against raw Redis state: createSubscriptionGroups,
 * touchDelivery, deadLetterDelivery and pushInbox, each documented return code.
 */

let redis: Redis;
useTestRedis((started) => ({ redis } = started));

function fixture(): { keys: Keys; store: SubscriptionStore } {
  const keys = createKeys(uniquePrefix("ss"));
  return { keys, store: new SubscriptionStore(redis, keys) };
}

const add = (keys: Keys, n: number) =>
  redis.xadd(keys.events(), "*", "event", "test.tick", "source", "t", "payload", JSON.stringify({ n }));

interface GroupRow {
  name: string;
  lastDelivered: string;
  pending: number;
}

async function groups(keys: Keys): Promise<GroupRow[]> {
  const rows = (await redis.xinfo("GROUPS", keys.events())) as unknown[][];
  return rows.map((row) => {
    const f = new Map<string, unknown>();
    for (let i = 0; i + 1 < row.length; i += 2) f.set(String(row[i]), row[i + 1]);
    return {
      name: String(f.get("name")),
      lastDelivered: String(f.get("last-delivered-id")),
      pending: Number(f.get("pending")),
    };
  });
}

describe("createSubscriptionGroups", () => {
  it("creates every group at the stream's end (made when missing); existing groups keep their position", async () => {
    const { keys, store } = fixture();
    assert.equal(await store.ensureGroups(["sub:a:p0", "sub:a:p1"]), 2);
    assert.equal(await redis.xlen(keys.events()), 0, "the stream exists, empty");
    await add(keys, 1);
    const last = (await add(keys, 2)) as string;
    await redis.xreadgroup("GROUP", "sub:a:p0", "c1", "COUNT", 1, "STREAMS", keys.events(), ">");
    assert.equal(await store.ensureGroups(["sub:a:p0", "sub:a:p1", "sub:a:p2"]), 1);
    const rows = new Map((await groups(keys)).map((g) => [g.name, g]));
    assert.equal(rows.get("sub:a:p0")?.pending, 1, "p0 kept what it had read");
    assert.equal(rows.get("sub:a:p1")?.lastDelivered, "0-0");
    assert.equal(rows.get("sub:a:p2")?.lastDelivered, last, "a new group starts after the newest entry");
  });
});

describe("touchDelivery", () => {
  it("1 and the idle time reset for the owner; 0 for another consumer or an acknowledged entry", async () => {
    const { keys, store } = fixture();
    await store.ensureGroups(["g"]);
    const id = (await add(keys, 1)) as string;
    await redis.xreadgroup("GROUP", "g", "c1", "STREAMS", keys.events(), ">");
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(await store.touch("g", "c2", id), false);
    assert.equal(await store.touch("g", "c1", id), true);
    const [entry] = (await redis.xpending(keys.events(), "g", id, id, 1)) as [string, string, number][];
    const [, owner, idle] = entry ?? [];
    assert.equal(owner, "c1");
    assert.ok(Number(idle) < 30, `idle reset, was ${idle}`);
    await store.ack("g", [id]);
    assert.equal(await store.touch("g", "c1", id), false);
  });
});

describe("deadLetterDelivery", () => {
  it("acknowledges and parks the entry with its record in one step; {0} when it is not the consumer's", async () => {
    const { keys, store } = fixture();
    await store.ensureGroups(["sub:s"]);
    const id = (await add(keys, 7)) as string;
    await redis.xreadgroup("GROUP", "sub:s", "c1", "STREAMS", keys.events(), ">");
    const record = {
      id,
      event: { id, event: "test.tick", payload: { n: 7 }, source: "t", ts: 1 },
      error: { code: "UNAVAILABLE", message: "down" },
      attempts: 3,
      failedAt: new Date(0).toISOString(),
      consumer: "c1",
    };
    assert.equal(await store.deadLetter("s", "sub:s", "c2", record), false, "another consumer's entry");
    assert.equal(await redis.zcard(keys.subscriptions.dead("s")), 0);
    assert.equal(await store.deadLetter("s", "sub:s", "c1", record), true);
    assert.equal((await groups(keys))[0]?.pending, 0, "acknowledged");
    assert.deepEqual(await store.deadLetters("s", 10), { total: 1, letters: [record] });
    assert.equal(await store.deadLetter("s", "sub:s", "c1", record), false, "no longer pending");
    assert.equal(await store.removeDeadLetters("s", [id]), 1);
    assert.deepEqual(await store.deadLetters("s", 10), { total: 0, letters: [] });
    assert.equal(await redis.hlen(keys.subscriptions.deadRecords("s")), 0);
  });
});

describe("pushInbox", () => {
  it("appends in order, at most once per dedupe key, keeps the newest INBOX_MAX, and expires", async () => {
    const { keys } = fixture();
    const msg = (text: string) => ({ from: "a", kind: "message", text });
    assert.equal((await pushInbox(redis, keys, "s1", msg("one"), "k1")).delivered, true);
    assert.equal((await pushInbox(redis, keys, "s1", msg("one again"), "k1")).delivered, false);
    assert.equal((await pushInbox(redis, keys, "s1", msg("two"))).delivered, true);
    assert.ok((await redis.pttl(keys.sessions.inbox("s1"))) > 0);
    assert.ok((await redis.pttl(keys.sessions.inboxDedupe("k1"))) > 0);
    assert.deepEqual(
      (await readInbox(redis, keys, "s1", false)).map((m) => m.text),
      ["one", "two"],
    );
    for (let i = 0; i < 105; i++) await pushInbox(redis, keys, "s1", msg(`m${i}`));
    const kept = await readInbox(redis, keys, "s1", true);
    assert.equal(kept.length, 100);
    assert.equal(kept[0]?.text, "m5");
    assert.equal(await redis.exists(keys.sessions.inbox("s1")), 0, "drained");
  });
});
