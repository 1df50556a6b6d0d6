import { z } from "zod";
import { AppError } from "../../src/core/errors.js";
import { defineHandler } from "../../src/services.js";
import { createKeys } from "../../src/storage/keys.js";

/**
 * Handlers that exist only in tests, to drive the transports through every outcome: a
 * result, an AppError, an unexpected exception, the request metadata, Redis side effects
 * and domain events.
 */

const anyObject = z.record(z.string(), z.unknown());

/** A message no client may ever see: the plain Error below carries it. */
export const SECRET = "s3cret-detail-from-the-database-driver";

export const testEcho = defineHandler({
  name: "test.echo",
  description: "Returns its input unchanged.",
  input: z.object({}).loose(),
  output: anyObject,
  handle: async (input) => input,
});

export const testNotFound = defineHandler({
  name: "test.not_found",
  description: "Always fails with NOT_FOUND.",
  input: z.object({ id: z.string().optional() }),
  output: anyObject,
  handle: async ({ id }) => {
    throw new AppError("NOT_FOUND", `Thing ${id ?? "?"} not found`, { id: id ?? null });
  },
});

export const testCrash = defineHandler({
  name: "test.crash",
  description: "Always fails with an unexpected exception.",
  input: z.object({}).loose(),
  output: anyObject,
  handle: async () => {
    throw new Error(SECRET);
  },
});

export const testMeta = defineHandler({
  name: "test.meta",
  description: "Returns the request metadata and transport it was called with.",
  input: z.object({}).loose(),
  output: z.object({ meta: anyObject, transport: z.string() }),
  handle: async (_input, ctx) => ({ meta: { ...ctx.meta }, transport: ctx.transport }),
});

/** The Redis list `test.incr` appends to (its length is the count), under a server's key prefix. */
export const counterKey = (prefix: string) => createKeys(prefix).diagnosticRecord("counter");

export const testIncr = defineHandler({
  name: "test.incr",
  description: "Counts a call in Redis (one entry of a diagnostic list) and tells which server did it.",
  input: z.object({}).loose(),
  output: z.object({ count: z.number(), instanceId: z.string() }),
  handle: async (_input, ctx) => ({
    count: await ctx.diagnostics.append("counter", ctx.instanceId),
    instanceId: ctx.instanceId,
  }),
});

export const testEmit = defineHandler({
  name: "test.emit",
  description: "Publishes one domain event.",
  input: z.object({ event: z.string(), payload: anyObject.optional() }),
  output: z.object({ id: z.string() }),
  handle: async ({ event, payload }, ctx) => ({ id: await ctx.emit(event, payload ?? {}) }),
});

export const testHandlers = [testEcho, testNotFound, testCrash, testMeta, testIncr, testEmit] as const;
