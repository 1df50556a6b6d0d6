import { z } from "zod";
import { FREE_FORM_MAX_BYTES, jsonAtMost } from "../../core/json-bounds.js";
import { defineHandler } from "../../services.js";
import { project, resolveProject, sessionId } from "./schemas.js";

export const sessionNotify = defineHandler({
  name: "session.notify",
  description:
    "Leaves a message in a session's inbox (to: a session id, or \"master\": the project's master session). The session sees it with its next prompt, or through session.inbox. Nothing is delivered when the project has no master or the sender is the master itself (delivered: false, with the reason).",
  input: z.object({
    to: z.union([z.literal("master"), sessionId]),
    project: project
      .or(z.string().max(4096).regex(/\//))
      .optional()
      .describe('With to: "master": the project (or a working directory); default: the sender\'s project'),
    from: sessionId.nullable().optional().describe("The sending session"),
    kind: z.string().min(1).max(100).default("message"),
    text: z.string().min(1).max(10_000),
    data: jsonAtMost(FREE_FORM_MAX_BYTES, z.unknown()).optional(),
    dedupeKey: z
      .string()
      .min(1)
      .max(300)
      .optional()
      .describe(
        "A message with a key seen before is not delivered again (a workflow passes its delivery id)",
      ),
  }),
  output: z.object({
    delivered: z.boolean(),
    to: z.string().nullable(),
    reason: z.string().optional(),
    messageId: z.string().optional(),
  }),
  expose: { mcp: { annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false } } },
  handle: async (input, ctx) => {
    const from = input.from ?? null;
    let to = input.to;
    let name: string | null = null;
    if (to === "master") {
      name = await resolveProject(ctx, input.project, from ?? undefined);
      const master = await ctx.sessions.masterOf(name);
      if (!master) return { delivered: false, to: null, reason: `project ${name} has no master session` };
      if (master === from) return { delivered: false, to: master, reason: "the sender is the master" };
      to = master;
    }
    const { delivered, message } = await ctx.sessions.pushInbox(
      to,
      { from, kind: input.kind, text: input.text, ...(input.data === undefined ? {} : { data: input.data }) },
      input.dedupeKey,
    );
    if (!delivered) return { delivered: false, to, reason: "already delivered (dedupeKey)" };
    await ctx.emit("session.message", {
      sessionId: to,
      from,
      kind: input.kind,
      project: name,
      text: input.text,
    });
    return { delivered: true, to, messageId: message.id };
  },
});
