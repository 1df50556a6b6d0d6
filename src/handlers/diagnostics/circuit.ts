import { z } from "zod";
import { AppError } from "../../core/errors.js";
import { defineHandler } from "../../services.js";

/**
 * A diagnostic handler (the original's `test.circuit`) that fails or sleeps on demand, for
 * exercising the resilience pipeline end to end. Served only with `--diagnostics` /
 * DIAGNOSTICS=on. When its call is aborted (a timeout, the caller leaving) it emits
 * `test.circuit.aborted`, so a test can see through the public event stream that the
 * handler observed the abort.
 */

const FAILURES = ["INTERNAL", "UNAVAILABLE", "NOT_FOUND", "CONFLICT"] as const;

export const testCircuit = defineHandler({
  name: "test.circuit",
  description:
    "Diagnostics only: answers after delayMs, or fails with the given error code. Exercises rate limits, circuit breakers and timeouts.",
  input: z.object({
    fail: z.enum(FAILURES).optional().describe("fail with this error code instead of answering"),
    delayMs: z.number().int().min(0).max(600_000).default(0),
    label: z.string().max(200).optional().describe("echoed back, and carried in the abort event"),
  }),
  output: z.object({ ok: z.literal(true), instanceId: z.string(), label: z.string().optional() }),
  expose: { mcp: { annotations: { readOnlyHint: true, openWorldHint: false } } },
  handle: async ({ fail, delayMs, label }, ctx) => {
    if (delayMs > 0) {
      const { signal } = ctx;
      const aborted = await new Promise<boolean>((resolve) => {
        if (signal.aborted) return resolve(true);
        const timer = setTimeout(() => {
          signal.removeEventListener("abort", onAbort);
          resolve(false);
        }, delayMs);
        const onAbort = () => {
          clearTimeout(timer);
          resolve(true);
        };
        signal.addEventListener("abort", onAbort, { once: true });
      });
      if (aborted) {
        await ctx.emit("test.circuit.aborted", { label: label ?? null, reason: String(signal.reason) });
        throw new AppError("UNAVAILABLE", "aborted");
      }
    }
    if (fail) throw new AppError(fail, `test.circuit failed on request with ${fail}`);
    return { ok: true as const, instanceId: ctx.instanceId, ...(label === undefined ? {} : { label }) };
  },
});
