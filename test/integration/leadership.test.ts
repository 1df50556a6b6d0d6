import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { Leadership } from "../../src/domain/coordination/leadership.js";
import { parseEventEntry } from "../../src/domain/events/event-log.js";
import { createKeys, type Keys } from "../../src/storage/keys.js";
import { CoordinationScripts } from "../../src/storage/scripts.js";
import { uniquePrefix, useTestRedis } from "../helpers/redis.js";

/**
 * Leadership against a real Redis (acquireLeadership-1.lua), each candidate on a clock the test
 * drives: a term is counted from when its call was sent, and a leader whose renewals do not
 * arrive stops saying it leads when its term ends here — before Redis lets another take over.
 */

let redis: Redis;
useTestRedis((started) => ({ redis } = started));

// Long enough that a stalled test process does not see Redis expire a term between two lines.
const TERM_MS = 2100;

/** A candidate whose clock stands still unless the test moves it (`at.ms`). */
function candidate(keys: Keys, id: string, at = { ms: 0 }) {
  const scripts = new CoordinationScripts(redis, keys, id, 1000);
  return { leadership: new Leadership(scripts, keys.coordination, id, TERM_MS, () => at.ms), at };
}

describe("leadership", () => {
  it("one leader per term; every new term has a larger epoch, announced once", async () => {
    const keys = createKeys(uniquePrefix("lead"));
    const a = candidate(keys, "a");
    const b = candidate(keys, "b");
    const first = await a.leadership.tick();
    assert.deepEqual(first, { leading: true, epoch: 1, token: "a|1", leaderId: "a" });
    assert.deepEqual(await b.leadership.tick(), { leading: false, epoch: 1, token: "", leaderId: "a" });
    assert.deepEqual(await a.leadership.tick(), first, "a renewal keeps the epoch");

    await a.leadership.resign(redis);
    assert.equal(a.leadership.state.leading, false);
    assert.deepEqual(await b.leadership.tick(), { leading: true, epoch: 2, token: "b|2", leaderId: "b" });
    const elected = (await redis.xrange(keys.events(), "-", "+"))
      .flatMap((entry) => parseEventEntry(entry) ?? [])
      .filter((e) => e.event === "leader.elected");
    assert.deepEqual(
      elected.map((e) => e.payload),
      [
        { leaderId: "a", epoch: 1 },
        { leaderId: "b", epoch: 2 },
      ],
      "leader.elected once per term",
    );
  });

  it("renews every third of the term", () => {
    const keys = createKeys(uniquePrefix("lead"));
    assert.equal(candidate(keys, "a").leadership.renewMs, Math.floor(TERM_MS / 3));
  });

  it("a leader whose renewals do not come stops leading when its term ends here, before Redis frees the term", async () => {
    const keys = createKeys(uniquePrefix("lead"));
    const a = candidate(keys, "a");
    await a.leadership.tick();
    a.at.ms = TERM_MS - 1;
    assert.equal(a.leadership.state.leading, true, "within its term");
    a.at.ms = TERM_MS; // a stall: no renewal for a whole term
    assert.deepEqual(a.leadership.state, { leading: false, epoch: 1, token: "", leaderId: null });
    assert.equal(
      await redis.get(keys.coordination.leader),
      "a|1",
      "Redis still holds its term: it ends later there",
    );

    // Once Redis' term runs out too, another takes over at a new epoch.
    const b = candidate(keys, "b");
    await sleep(TERM_MS + 100);
    assert.deepEqual(await b.leadership.tick(), { leading: true, epoch: 2, token: "b|2", leaderId: "b" });
    assert.deepEqual((await a.leadership.tick()).leaderId, "b", "the old leader resumes as a follower");
    assert.equal(a.leadership.state.leading, false);
  });

  it("a term is counted from when the call was sent: a renewal answered after it ran out does not make it lead", async () => {
    const keys = createKeys(uniquePrefix("lead"));
    const at = { ms: 0 };
    const scripts = new CoordinationScripts(redis, keys, "a", 1000);
    // The clock moves past the term while the call is in flight (as in a stall).
    const slow = new Leadership(scripts, keys.coordination, "a", TERM_MS, () => {
      const now = at.ms;
      at.ms += TERM_MS;
      return now;
    });
    const state = await slow.tick();
    assert.equal(state.leading, false, "the reply came after the term it granted had ended");
    assert.equal(state.token, "");
  });

  it("ledForMs counts from the start of an unbroken leadership: renewals extend it, a lapsed term starts it again", async () => {
    const keys = createKeys(uniquePrefix("lead"));
    const a = candidate(keys, "a");
    assert.equal(a.leadership.ledForMs(), 0, "not leading");
    a.at.ms = 100;
    await a.leadership.tick();
    a.at.ms = 700;
    assert.equal(a.leadership.ledForMs(), 600);
    await a.leadership.tick(); // a renewal within the term
    a.at.ms = 1500;
    assert.equal(a.leadership.ledForMs(), 1400, "still counted from the first term");
    a.at.ms = 700 + TERM_MS; // a stall: the term lapsed here (Redis still holds it)
    assert.equal(a.leadership.ledForMs(), 0);
    await a.leadership.tick(); // taken back at once: a leadership that starts again
    a.at.ms += 50;
    assert.equal(a.leadership.ledForMs(), 50);
  });

  it("resigning gives back a term that lapsed here but is still held in Redis", async () => {
    const keys = createKeys(uniquePrefix("lead"));
    const a = candidate(keys, "a");
    await a.leadership.tick();
    a.at.ms = TERM_MS * 2;
    assert.equal(a.leadership.state.leading, false);
    await a.leadership.resign(redis);
    assert.equal(await redis.get(keys.coordination.leader), null, "a successor need not wait for it");
  });
});
