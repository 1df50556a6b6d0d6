import { z } from "zod";
import { AppError } from "../../core/errors.js";
import { FREE_FORM_MAX_BYTES, jsonAtMost } from "../../core/json-bounds.js";
import { sessionInstanceId } from "../../domain/coordination/identity.js";
import { defineHandler } from "../../services.js";
import { sessionId } from "./schemas.js";

export const sessionAnnotateTask = defineHandler({
  name: "session.annotate_task",
  description:
    "Sets one metadata entry on every task the session works on now (its todos in progress): e.g. a record of a tool call that was denied. Setting the same key again changes nothing more, so a repeated call is harmless.",
  input: z.object({
    sessionId,
    key: z.string().min(1).max(128),
    value: jsonAtMost(
      FREE_FORM_MAX_BYTES,
      z.unknown().refine((v) => v !== undefined, "value is required"),
    ),
  }),
  output: z.object({ tasks: z.array(z.string()) }),
  expose: { mcp: { annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true } } },
  handle: async ({ sessionId: session, key, value }, ctx) => {
    const held = await ctx.tasks.heldBy(sessionInstanceId(session));
    const tasks: string[] = [];
    for (const id of held.sort()) {
      try {
        await ctx.tasks.update(id, { metadata: { [key]: value } });
        tasks.push(id);
      } catch (err) {
        if (!(err instanceof AppError) || err.code !== "NOT_FOUND") throw err; // deleted meanwhile
      }
    }
    return { tasks };
  },
});
