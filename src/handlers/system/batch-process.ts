import { z } from "zod";
import { AppError } from "../../core/errors.js";
import { keySafeId } from "../../core/ids.js";
import type { HandlerContext } from "../../services.js";
import { defineHandler } from "../../services.js";
import { instanceId } from "./schemas.js";

const BATCH_TTL_S = 24 * 3600;

/**
 * Whether the caller may call `method` itself. `ctx.invoke` runs a nested call past the
 * transports' exposure, so without this check a model could reach, as a processor, the methods
 * kept from MCP.
 */
function callable(ctx: HandlerContext, method: string): boolean {
  const handler = ctx.registry.resolve(method);
  return handler !== undefined && (ctx.transport === "internal" || Boolean(handler.expose[ctx.transport]));
}

export const systemBatchProcess = defineHandler({
  name: "system.batch.process",
  description:
    "Processes a batch of items together with every other instance that calls it with the same batchId: items are shared out so each is processed once, items of an instance that dies are finished by the others, and batch.completed is emitted once. processor names a method called per item with { batchId, index, item }; without it each item is just recorded. The processor must be a method the caller may call itself (over MCP: a tool).",
  input: z.object({
    batchId: z.string().regex(keySafeId()),
    instanceId,
    items: z.array(z.unknown()).max(100_000),
    processor: z.string().max(200).optional().describe("Method to call for each item"),
    chunk: z.number().int().min(1).max(1000).default(10),
    leaseMs: z.number().int().min(100).max(600_000).default(10_000),
  }),
  output: z.object({
    processed: z.boolean(),
    processorId: z.string(),
    itemsProcessed: z.number(),
    status: z.enum(["running", "completed"]),
    done: z.number(),
    total: z.number(),
  }),
  expose: { mcp: { annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false } } },
  handle: async (input, ctx) => {
    const { processor } = input;
    if (processor !== undefined && !callable(ctx, processor)) {
      throw new AppError("VALIDATION", `processor: no method ${processor} that this caller may call`, {
        processor,
      });
    }
    const progress = await ctx.coordination.processBatch(
      { batchId: input.batchId, processorId: input.instanceId, items: input.items },
      async (item, index) => {
        if (processor) await ctx.invoke(processor, { batchId: input.batchId, index, item });
      },
      { chunk: input.chunk, leaseMs: input.leaseMs, ttlSec: BATCH_TTL_S },
      ctx.signal,
    );
    return {
      processed: progress.status === "completed",
      processorId: input.instanceId,
      itemsProcessed: progress.processedByMe,
      status: progress.status,
      done: progress.done,
      total: progress.total,
    };
  },
});
