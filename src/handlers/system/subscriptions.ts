import { z } from "zod";
import { defineHandler } from "../../services.js";

/** Event subscriptions and workflows: what runs, how far behind, and the dead letters. */

const name = z.string().min(1).max(64).describe("The subscription (or workflow) name");
const streamIds = z
  .array(z.string().regex(/^\d+-\d+$/, "a stream id like 1700000000000-0"))
  .min(1)
  .max(1000);
const error = z.object({ code: z.string(), message: z.string() });

const summary = z.object({
  name: z.string(),
  source: z.string().describe("workflows, startServer, or the plugin file"),
  events: z.array(z.string()),
  partitions: z.number(),
  partitioned: z.boolean(),
  leaderOnly: z.boolean(),
  maxAttempts: z.number(),
  lag: z.number().nullable().describe("stream entries its group has not read yet (the slowest partition)"),
  pending: z.number().describe("delivered to a server, not finished (running or waiting for a retry)"),
  deadLetters: z.number(),
  local: z.object({ delivered: z.number(), retried: z.number(), deadLettered: z.number() }),
});

const deadLetter = z.object({
  id: z.string(),
  event: z.object({
    id: z.string(),
    event: z.string(),
    payload: z.record(z.string(), z.unknown()),
    source: z.string(),
    ts: z.number(),
  }),
  error,
  attempts: z.number(),
  failedAt: z.string(),
  consumer: z.string(),
});

export const systemSubscriptions = defineHandler({
  name: "system.subscriptions",
  description:
    "Lists the event subscriptions and workflows this server runs, with lag (events not yet read), pending deliveries and dead letters.",
  input: z.object({}),
  output: z.object({ subscriptions: z.array(summary) }),
  expose: { mcp: { annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false } } },
  handle: async (_input, ctx) => ({ subscriptions: await ctx.subscriptions.describe() }),
});

export const systemSubscriptionsDeadLetters = defineHandler({
  name: "system.subscriptions.dead_letters",
  description:
    "The dead letters of one subscription, oldest first: each event whose delivery failed every attempt, with its last error.",
  input: z.object({ name, limit: z.number().int().min(1).max(1000).default(100) }),
  output: z.object({ name: z.string(), total: z.number(), letters: z.array(deadLetter) }),
  expose: { mcp: { annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false } } },
  handle: async ({ name, limit }, ctx) => ({ name, ...(await ctx.subscriptions.deadLetters(name, limit)) }),
});

export const systemSubscriptionsRetry = defineHandler({
  name: "system.subscriptions.retry",
  description:
    "Delivers dead letters once more, now, on this server (the given ids, or the oldest 100): each one that succeeds leaves the dead letters, each one that fails again stays with its new error.",
  input: z.object({ name, ids: streamIds.optional() }),
  output: z.object({ retried: z.number(), failed: z.array(z.object({ id: z.string(), error })) }),
  expose: { mcp: false },
  handle: async ({ name, ids }, ctx) => ctx.subscriptions.retry(name, ids ?? null),
});

export const systemSubscriptionsDrop = defineHandler({
  name: "system.subscriptions.drop",
  description:
    "Removes dead letters of one subscription without delivering them: the given ids, or all with all: true.",
  input: z
    .object({ name, ids: streamIds.optional(), all: z.boolean().optional() })
    .refine((i) => (i.ids !== undefined) !== (i.all === true), { message: "give either ids or all: true" }),
  output: z.object({ dropped: z.number() }),
  expose: { mcp: false },
  handle: async ({ name, ids }, ctx) => ({ dropped: await ctx.subscriptions.drop(name, ids ?? null) }),
});
