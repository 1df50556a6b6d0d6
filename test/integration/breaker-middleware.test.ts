import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { Redis } from "ioredis";
import type { Middleware } from "../../src/core/dispatch.js";
import { AppError, type ErrorCode } from "../../src/core/errors.js";
import { createLogger } from "../../src/core/logger.js";
import { CircuitBreakerMiddleware } from "../../src/resilience/breaker-middleware.js";
import { BreakerBoard } from "../../src/resilience/circuit-breaker.js";
import type { EffectivePolicy } from "../../src/resilience/policy.js";
import { createKeys } from "../../src/storage/keys.js";
import { until } from "../helpers/cluster.js";
import { uniquePrefix, useTestRedis } from "../helpers/redis.js";
import { heldCall, invocationOf, policyWith, refusal } from "../helpers/resilience.js";

/**
 * The circuit breaker middleware alone, over a real breaker board on a real Redis, with the
 * test's clock: which outcomes it reports, and what it lets through in each state.
 */

const BREAKER = { failureRatio: 0.5, minCalls: 2, windowMs: 10_000, openMs: 5_000, halfOpenProbes: 1 };
const log = createLogger("silent");

describe("circuit breaker middleware", () => {
  let redis: Redis;
  let now = 1_900_000_000_000;
  let redisUp = true;
  let board: BreakerBoard;
  let emitted: string[];
  useTestRedis((started) => ({ redis } = started));
  afterEach(async () => {
    await board?.stop();
  });

  /** A fresh board (its own keys) following `policies`, and the middleware of `m.guarded`. */
  async function guarded(
    policies = new Map<string, EffectivePolicy>([["m.guarded", policyWith({ breaker: BREAKER })]]),
  ): Promise<{ breaker: CircuitBreakerMiddleware; guard: Middleware }> {
    emitted = [];
    redisUp = true;
    board = new BreakerBoard({
      redis,
      keys: createKeys(uniquePrefix("cb")).policy,
      log,
      emit: async (event) => {
        emitted.push(event);
        return "0-0";
      },
      clock: () => now,
    });
    const breaker = new CircuitBreakerMiddleware(board, log, () => redisUp);
    breaker.configure(policies);
    await board.start();
    const guard = breaker.forMethod("m.guarded", policies.get("m.guarded") as EffectivePolicy) as Middleware;
    return { breaker, guard };
  }

  const call = invocationOf("m.guarded");
  const failWith = (code: ErrorCode) => async () => {
    throw new AppError(code, `failed with ${code}`);
  };
  const state = () => board.states()["m.guarded"]?.state;

  async function failTimes(guard: Middleware, times: number, code: ErrorCode = "INTERNAL") {
    for (let i = 0; i < times; i++)
      assert.equal((await refusal(() => guard(call, failWith(code)))).code, code);
    await board.flush();
  }

  it("opens on server failures, then refuses with CIRCUIT_OPEN without running the call", async () => {
    const { guard } = await guarded();
    for (let i = 0; i < 3; i++) assert.equal(await guard(call, async () => "ok"), "ok");
    await failTimes(guard, 1, "INTERNAL");
    await failTimes(guard, 1, "TIMEOUT");
    assert.equal(state(), "closed", "2 failures of 5 calls");
    await failTimes(guard, 1, "UNAVAILABLE");
    assert.equal(state(), "open", "3 failures of 6 calls");
    let ran = false;
    const refused = await refusal(() =>
      guard(call, async () => {
        ran = true;
      }),
    );
    assert.equal(refused.code, "CIRCUIT_OPEN");
    assert.deepEqual(refused.data, { method: "m.guarded", retryAfterMs: BREAKER.openMs });
    assert.equal(ran, false);
    assert.deepEqual(emitted, ["circuit.opened"]);
  });

  it("does not count client errors, nor anything while Redis is unreachable", async () => {
    const { guard } = await guarded();
    for (const code of ["VALIDATION", "NOT_FOUND", "CONFLICT", "RATE_LIMITED"] as const)
      await failTimes(guard, 3, code);
    assert.equal(state(), "closed", "client errors say nothing about the handler's health");
    redisUp = false;
    await failTimes(guard, 5, "UNAVAILABLE");
    assert.equal(state(), "closed", "an outage fails every method alike");
    redisUp = true;
    now += BREAKER.windowMs;
    await failTimes(guard, BREAKER.minCalls, "UNAVAILABLE");
    assert.equal(state(), "open");
  });

  it("lets one probe through after the open time: its success closes the breaker, its failure reopens it", async () => {
    const { guard } = await guarded();
    await failTimes(guard, BREAKER.minCalls);
    assert.equal(state(), "open");
    now += BREAKER.openMs;
    const probe = heldCall();
    const probing = guard(call, probe.next);
    await until(async () => state() === "half_open", "the probe to be admitted");
    assert.equal(
      (await refusal(() => guard(call, async () => "second"))).code,
      "CIRCUIT_OPEN",
      "one probe at a time",
    );
    probe.fail(new AppError("INTERNAL", "still broken"));
    assert.equal((await refusal(() => probing)).code, "INTERNAL");
    assert.equal(state(), "open", "the failed probe reopened it");
    now += BREAKER.openMs;
    assert.equal(await guard(call, async () => "healed"), "healed");
    assert.equal(state(), "closed");
    assert.deepEqual(emitted, [
      "circuit.opened",
      "circuit.half_opened",
      "circuit.opened",
      "circuit.half_opened",
      "circuit.closed",
    ]);
  });

  it("gives the board the methods that have a breaker, and puts nothing in front of the others", async () => {
    const policies = new Map<string, EffectivePolicy>([
      ["m.guarded", policyWith({ breaker: BREAKER })],
      ["m.open", policyWith({ breaker: null, concurrency: 1 })],
    ]);
    const { breaker } = await guarded(policies);
    assert.deepEqual(Object.keys(board.states()), ["m.guarded"]);
    assert.equal(breaker.forMethod("m.open", policies.get("m.open") as EffectivePolicy), null);
    breaker.configure(new Map([["m.other", policyWith({ breaker: BREAKER })]]));
    assert.deepEqual(Object.keys(board.states()), ["m.other"], "handlers came and went");
  });
});
