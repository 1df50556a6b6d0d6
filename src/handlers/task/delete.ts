import { z } from "zod";
import { defineHandler } from "../../services.js";
import { channel, status, taskId } from "./schemas.js";

export const taskDelete = defineHandler({
  name: "task.delete",
  description:
    "Deletes a task for good (use task.cancel to keep a record). With filter instead of id, deletes every task in a status (optionally of one channel) — up to limit at a time.",
  input: z
    .object({
      id: taskId.optional(),
      filter: z
        .object({
          status,
          channel: channel.optional(),
          limit: z.number().int().min(1).max(10_000).default(1000),
        })
        .optional(),
    })
    .refine((i) => (i.id === undefined) !== (i.filter === undefined), {
      message: "give either id or filter",
      path: ["id"],
    }),
  output: z.object({
    id: z.string().optional(),
    deleted: z.union([z.boolean(), z.number()]),
    deletedAt: z.string(),
    ids: z.array(z.string()).optional(),
  }),
  expose: { mcp: { annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false } } },
  handle: async (input, ctx) => {
    const deletedAt = new Date().toISOString();
    if (input.id) {
      await ctx.tasks.delete(input.id);
      return { id: input.id, deleted: true, deletedAt };
    }
    const filter = input.filter as NonNullable<typeof input.filter>;
    const ids = await ctx.tasks.deleteWhere(filter.status, filter.channel, filter.limit);
    return { deleted: ids.length, deletedAt, ids };
  },
});
