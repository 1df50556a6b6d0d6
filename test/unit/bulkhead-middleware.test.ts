import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Middleware } from "../../src/core/dispatch.js";
import { BulkheadMiddleware } from "../../src/resilience/bulkhead-middleware.js";
import { heldCall, invocationOf, policyWith, refusal } from "../helpers/resilience.js";

/** The concurrency limit (bulkhead) alone: it counts in this process, with no Redis. */

const limitOf = (bulkhead: BulkheadMiddleware, method: string, concurrency: number) =>
  bulkhead.forMethod(method, policyWith({ concurrency })) as Middleware;

describe("bulkhead middleware", () => {
  it("lets `concurrency` calls of a method run at once and refuses the next with UNAVAILABLE", async () => {
    const limit = limitOf(new BulkheadMiddleware(), "m.busy", 2);
    const call = invocationOf("m.busy");
    const [first, second] = [heldCall(), heldCall()];
    const running = [limit(call, first.next), limit(call, second.next)];
    let ran = false;
    const refused = await refusal(() =>
      limit(call, async () => {
        ran = true;
      }),
    );
    assert.equal(refused.code, "UNAVAILABLE");
    assert.deepEqual(refused.data, { method: "m.busy", concurrencyLimit: 2, retryAfterMs: 100 });
    assert.match(refused.message, /Too many concurrent calls of m\.busy on this server \(limit 2\)/);
    assert.equal(ran, false, "the refused call did not run");
    first.finish("one");
    assert.equal(await running[0], "one");
    assert.equal(await limit(call, async () => "freed"), "freed", "a finished call frees its slot");
    second.fail(new Error("broken"));
    await assert.rejects(running[1] as Promise<unknown>, /broken/);
    const [third, fourth] = [heldCall(), heldCall()];
    const after = [limit(call, third.next), limit(call, fourth.next)];
    third.finish();
    fourth.finish();
    await Promise.all(after);
    assert.equal(await limit(call, async () => "again"), "again", "a failed call freed its slot too");
  });

  it("counts each method on its own", async () => {
    const bulkhead = new BulkheadMiddleware();
    const held = heldCall();
    const busy = limitOf(bulkhead, "m.a", 1)(invocationOf("m.a"), held.next);
    assert.equal(await limitOf(bulkhead, "m.b", 1)(invocationOf("m.b"), async () => "b"), "b");
    held.finish();
    await busy;
  });

  it("keeps counting the calls in flight when the method's policy changes", async () => {
    const bulkhead = new BulkheadMiddleware();
    const held = heldCall();
    const before = limitOf(bulkhead, "m.a", 1)(invocationOf("m.a"), held.next);
    const rebuilt = limitOf(bulkhead, "m.a", 1);
    assert.equal((await refusal(() => rebuilt(invocationOf("m.a"), async () => "no"))).code, "UNAVAILABLE");
    held.finish();
    await before;
    assert.equal(await rebuilt(invocationOf("m.a"), async () => "yes"), "yes");
  });

  it("puts nothing in front of a method without a concurrency limit", () => {
    assert.equal(new BulkheadMiddleware().forMethod("m.free", policyWith({ cache: { ttlMs: 5 } })), null);
  });
});
