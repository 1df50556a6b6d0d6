import { z } from "zod";
import { ORDER_FIELDS } from "../../domain/tasks/list.js";
import { defineHandler } from "../../services.js";
import { channel, status, task, workerId } from "./schemas.js";

const priorityBound = z.number().int().min(0).max(100);

export const taskList = defineHandler({
  name: "task.list",
  description:
    "Lists tasks with filters (status, assignedTo, channel, priority or a priority range, text) and pagination. Newest first by default. Use it to see what is queued, who works on what, and what failed.",
  input: z.object({
    status: status.optional(),
    assignedTo: workerId.optional(),
    channel: channel.optional(),
    priority: priorityBound.optional().describe("Exactly this priority"),
    minPriority: priorityBound.optional(),
    maxPriority: priorityBound.optional(),
    text: z.string().min(1).max(200).optional().describe("Case-insensitive substring of text or description"),
    limit: z.number().int().min(1).max(1000).default(100),
    offset: z.number().int().min(0).default(0),
    orderBy: z.enum(ORDER_FIELDS).default("createdAt"),
    order: z.enum(["asc", "desc"]).default("desc"),
  }),
  output: z.object({ tasks: z.array(task), totalCount: z.number(), hasMore: z.boolean() }),
  expose: { mcp: { annotations: { readOnlyHint: true, idempotentHint: true } } },
  handle: async (input, ctx) => ctx.tasks.list(input),
});
