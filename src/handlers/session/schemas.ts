import { z } from "zod";
import { AppError } from "../../core/errors.js";
import { keySafeId } from "../../core/ids.js";
import { sessionInstanceId } from "../../domain/coordination/identity.js";
import { projectOf } from "../../domain/sessions/sessions.js";
import type { HandlerContext } from "../../services.js";

export const sessionId = z
  .string()
  .min(1)
  .max(200)
  .describe("A Claude Code session id (hook payloads' session_id)");
export const project = z
  .string()
  .regex(keySafeId())
  .describe("The project: the last segment of its working directory (the session's channel)");

export const message = z.object({
  id: z.string(),
  from: z.string().nullable(),
  kind: z.string(),
  text: z.string(),
  data: z.unknown().optional(),
  at: z.string(),
});

/**
 * The project given, else the one a working directory names (a path), else the session's own
 * (from its instance record), else VALIDATION.
 */
export async function resolveProject(
  ctx: HandlerContext,
  given: string | undefined,
  session: string | undefined,
): Promise<string> {
  if (given) return given.includes("/") ? projectOf(given) : given;
  if (session) {
    const instance = await ctx.instances.get(sessionInstanceId(session));
    const known = instance?.metadata.project;
    if (typeof known === "string" && known) return known;
  }
  throw new AppError(
    "VALIDATION",
    "Which project? Give project (the session has no known working directory)",
    {
      sessionId: session ?? null,
    },
  );
}
