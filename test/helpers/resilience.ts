import { z } from "zod";
import type { RequestMeta, TransportName } from "../../src/core/context.js";
import type { Invocation } from "../../src/core/dispatch.js";
import { type AppError, toAppError } from "../../src/core/errors.js";
import { defineHandler } from "../../src/core/handler.js";
import type { EffectivePolicy } from "../../src/resilience/policy.js";

/** A policy that asks nothing of any resilience concern, with `fields` on top. */
export const policyWith = (fields: Partial<EffectivePolicy>): EffectivePolicy => ({
  timeoutMs: 0,
  rateLimit: null,
  breaker: null,
  cache: null,
  concurrency: 0,
  invalidates: [],
  ...fields,
});

/**
 * A validated call of `method` as the dispatcher hands it to middleware. The resilience
 * middleware reads the handler's name, the input, the transport and the meta; the rest of a
 * call's context belongs to the dispatcher and is not built here.
 */
export function invocationOf(
  method: string,
  call: { input?: unknown; transport?: TransportName; meta?: RequestMeta } = {},
): Invocation {
  const handler = defineHandler({
    name: method,
    description: `${method} (a test handler)`,
    input: z.object({}),
    output: z.unknown(),
    handle: async () => undefined,
  });
  const ctx = {
    transport: call.transport ?? "jsonrpc",
    meta: call.meta ?? {},
  } as unknown as Invocation["ctx"];
  return { handler, input: call.input ?? {}, ctx };
}

/**
 * The error a call was refused or failed with (as an AppError); fails when it succeeded.
 * Middleware may refuse at once (a throw, when it needs no round trip) or by rejecting; the
 * dispatcher, which awaits it, sees both as a rejection.
 */
export async function refusal(call: () => Promise<unknown>): Promise<AppError> {
  try {
    await call();
  } catch (err) {
    return toAppError(err);
  }
  throw new Error("the call was expected to fail, and succeeded");
}

/** A call that runs until the test settles it, to hold a concurrency slot or a probe. */
export function heldCall(): {
  next: () => Promise<unknown>;
  finish(value?: unknown): void;
  fail(err: Error): void;
} {
  let finish: (value?: unknown) => void = () => undefined;
  let fail: (err: Error) => void = () => undefined;
  const running = new Promise<unknown>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  return { next: () => running, finish: (value) => finish(value), fail: (err) => fail(err) };
}
