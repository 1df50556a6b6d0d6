import { z } from "zod";
import { keySafeId } from "../../core/ids.js";
import { defineHandler } from "../../services.js";
import { capabilities, channel, metadata, priority, task } from "./schemas.js";

export const taskCreate = defineHandler({
  name: "task.create",
  description:
    "Adds a task to the shared queue for any agent or worker to claim. Higher priority is claimed first, first-come first-served within a priority. Use idempotencyKey when you may retry the call: a replay returns the first task instead of creating a second.",
  input: z.object({
    text: z.string().min(1).max(2000).describe("What to do (1..2000 characters)"),
    priority: priority.default(50),
    description: z.string().max(10_000).optional(),
    channel: channel.optional(),
    metadata: metadata.optional(),
    maxAttempts: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(3)
      .describe("Tries before the task is dead-lettered"),
    ttl: z
      .number()
      .int()
      .min(1)
      .max(31_536_000)
      .optional()
      .describe("Seconds the task may wait before it expires"),
    delay: z
      .number()
      .int()
      .min(0)
      .max(31_536_000_000)
      .optional()
      .describe("Milliseconds before it can be claimed"),
    idempotencyKey: z.string().regex(keySafeId(200)).optional(),
    requires: capabilities.optional().describe("Capabilities a worker needs to claim it"),
  }),
  output: task.extend({ duplicate: z.boolean().optional() }),
  expose: { mcp: { annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false } } },
  handle: async (input, ctx) => {
    const { task: created, duplicate } = await ctx.tasks.create({
      text: input.text,
      priority: input.priority,
      description: input.description,
      channel: input.channel,
      metadata: input.metadata,
      maxAttempts: input.maxAttempts,
      ttlSec: input.ttl,
      delayMs: input.delay,
      idempotencyKey: input.idempotencyKey,
      requires: input.requires,
    });
    return duplicate ? { ...created, duplicate } : created;
  },
});
