import { z } from "zod";
import { instanceOf } from "../../domain/coordination/identity.js";

/** Fields the original ClaudeBench hook bridge sends with every hook method. */
export const hookContext = {
  sessionId: z.string().max(200).optional(),
  instanceId: z.string().max(200).optional(),
  timestamp: z.number().optional(),
};

/**
 * The instance a hook call is about: the one it names (else the caller's metadata), the session's
 * own `cc-<session id>` when that is the original bridge's name of the session.
 */
export function hookInstance(
  named: string | undefined,
  fromMeta: string | undefined,
  sessionId: string | undefined,
): string | undefined {
  const id = named ?? fromMeta;
  return id === undefined ? undefined : instanceOf(id, sessionId);
}

export const todo = z.object({
  content: z.string().max(10_000),
  status: z.enum(["pending", "in_progress", "completed"]),
  activeForm: z.string().max(10_000).optional(),
  id: z.string().max(200).optional(),
  priority: z.string().max(20).optional(),
});

export const todoOutcome = z.object({
  content: z.string(),
  taskId: z.string(),
  status: z.string(),
  action: z.enum(["created", "kept", "reworded", "conflict"]),
});

/** Tool input as Claude Code sends it: an object (a bare string is taken as a Bash command). */
export function toolInput(tool: string, params: unknown): Record<string, unknown> {
  if (params && typeof params === "object" && !Array.isArray(params))
    return params as Record<string, unknown>;
  if (typeof params === "string") return tool === "Bash" ? { command: params } : { value: params };
  return {};
}

/** Each hook link that ran, as the legacy hook methods report it (see extensions/hook-links/chain.ts). */
export const linkRecords = z
  .array(
    z.object({
      name: z.string(),
      outcome: z.string(),
      ms: z.number(),
      error: z.string().optional(),
    }),
  )
  .describe("Each hook link that ran, in order: its decision (or timeout / error) and duration in ms");
