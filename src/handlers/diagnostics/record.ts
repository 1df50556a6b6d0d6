import { z } from "zod";
import { AppError } from "../../core/errors.js";
import { defineHandler } from "../../services.js";

/**
 * A diagnostic handler that appends a value to a named list in Redis (and can fail after
 * recording), so tests can count and order the side effects of subscriptions and workflows
 * across server processes. Served only with `--diagnostics` / DIAGNOSTICS=on.
 */
export const testRecord = defineHandler({
  name: "test.record",
  description:
    "Diagnostics only: appends value to the list named list (after delayMs), then answers, or fails with UNAVAILABLE when fail is true.",
  input: z.object({
    list: z.string().min(1).max(200),
    value: z.string().max(10_000),
    delayMs: z.number().int().min(0).max(60_000).default(0),
    fail: z.boolean().default(false),
  }),
  output: z.object({ length: z.number() }),
  expose: { mcp: false },
  handle: async ({ list, value, delayMs, fail }, ctx) => {
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    const length = await ctx.diagnostics.append(list, value);
    if (fail) throw new AppError("UNAVAILABLE", `test.record failed on request (${list})`);
    return { length };
  },
});
