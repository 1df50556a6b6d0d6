import { z } from "zod";
import { defineHandler } from "../../services.js";
import { project, resolveProject, sessionId } from "./schemas.js";

export const sessionSetRole = defineHandler({
  name: "session.set_role",
  description:
    "Makes a Claude Code session the master of its project (the session the others report to: their todo updates and dead-lettered tasks reach its inbox), or a member again. One master per project; a new master replaces the old.",
  input: z.object({
    sessionId,
    role: z.enum(["master", "member"]),
    project: project.optional().describe("Default: the session's project, from its working directory"),
  }),
  output: z.object({
    project: z.string(),
    role: z.enum(["master", "member"]),
    previousMaster: z.string().nullable(),
  }),
  expose: { mcp: { annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true } } },
  handle: async (input, ctx) => {
    const name = await resolveProject(ctx, input.project, input.sessionId);
    const previousMaster = await ctx.sessions.setRole(name, input.sessionId, input.role);
    await ctx.emit("session.role_changed", {
      sessionId: input.sessionId,
      project: name,
      role: input.role,
      previousMaster,
    });
    return { project: name, role: input.role, previousMaster };
  },
});
