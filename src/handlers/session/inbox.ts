import { z } from "zod";
import { defineHandler } from "../../services.js";
import { message, sessionId } from "./schemas.js";

export const sessionInbox = defineHandler({
  name: "session.inbox",
  description:
    "The messages waiting in a session's inbox, oldest first (todo updates of other sessions, dead-lettered tasks, ...). drain: true also empties it; the session's next prompt drains it as well.",
  input: z.object({ sessionId, drain: z.boolean().default(false) }),
  output: z.object({ messages: z.array(message) }),
  expose: { mcp: { annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false } } },
  handle: async ({ sessionId, drain }, ctx) => ({
    messages: await ctx.sessions.readInbox(sessionId, drain),
  }),
});
