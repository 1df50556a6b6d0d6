import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ClaudeBenchError } from "../../src/client/http-client.js";
import { ServerContact } from "../../src/client/server-contact.js";
import { Backoff } from "../../src/core/backoff.js";

/** A worker that cannot reach its server: waits that grow to a cap, and one line per outage. */

describe("Backoff", () => {
  it("doubles from the base up to the cap, and starts again from the base after reset", () => {
    const backoff = new Backoff(1000, 30_000);
    const waits = Array.from({ length: 8 }, () => backoff.next());
    assert.deepEqual(waits, [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
    backoff.reset();
    assert.deepEqual([backoff.next(), backoff.next()], [1000, 2000]);
  });

  it("stays at the cap however long it fails (no overflow to Infinity)", () => {
    const backoff = new Backoff(1000, 30_000);
    for (let i = 0; i < 5000; i++) backoff.next();
    assert.equal(backoff.next(), 30_000);
  });

  it("with jitter, each wait is between half and all of its step", () => {
    const low = new Backoff(250, 5000, () => 0);
    const high = new Backoff(250, 5000, () => 0.999_999);
    assert.deepEqual([low.next(), low.next(), low.next()], [125, 250, 500]);
    const top = [high.next(), high.next(), high.next()];
    assert.deepEqual(
      top.map((ms) => Math.round(ms)),
      [250, 500, 1000],
    );
  });
});

describe("ServerContact", () => {
  const unreachable = new ClaudeBenchError(
    "NETWORK",
    "cannot reach ClaudeBench at http://127.0.0.1:1: fetch failed (ECONNREFUSED). Is the server running?",
  );

  function contact() {
    const lines: string[] = [];
    let now = 1_000_000;
    const c = new ServerContact(
      (line) => lines.push(line),
      "trying again with back-off",
      () => now,
    );
    return { c, lines, advance: (ms: number) => (now += ms) };
  }

  it("one line when calls start failing, none for the attempts after, one when they work again", () => {
    const { c, lines, advance } = contact();
    c.succeeded();
    assert.deepEqual(lines, [], "nothing to say while all is well");
    for (let i = 0; i < 20; i++) {
      c.failed(unreachable);
      advance(1000);
    }
    assert.equal(c.failing, true);
    c.succeeded();
    c.succeeded();
    assert.deepEqual(lines, [
      `! server unavailable (${unreachable.message}); trying again with back-off`,
      "server answering again after 20s",
    ]);
    assert.equal(c.failing, false);
  });

  it("an error of another kind while failing gets its own line, with the code when the server answered; other words for the same kind do not", () => {
    const { c, lines } = contact();
    c.failed(unreachable);
    c.failed(
      new ClaudeBenchError(
        "NETWORK",
        "cannot reach ClaudeBench at http://127.0.0.1:1: fetch failed (ECONNRESET)",
      ),
    );
    c.failed(new ClaudeBenchError("UNAVAILABLE", "Redis is unreachable"));
    c.failed(new ClaudeBenchError("UNAVAILABLE", "Redis is unreachable"));
    assert.deepEqual(lines.slice(1), ["! server still unavailable (UNAVAILABLE: Redis is unreachable)"]);
  });
});
