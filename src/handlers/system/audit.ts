import { z } from "zod";
import { ERROR_CODES } from "../../core/errors.js";
import type { AuditQuery, AuditRecord } from "../../domain/audit/record.js";
import { defineHandler } from "../../services.js";

const transports = ["jsonrpc", "http", "mcp", "events", "internal"] as const;
const outcome = z.enum(["ok", ...ERROR_CODES]);

const auditRecord = z.object({
  id: z.string(),
  at: z.string(),
  method: z.string(),
  transport: z.enum(transports),
  outcome,
  target: z.string().nullable(),
  sessionId: z.string().nullable(),
  instanceId: z.string().nullable(),
  remoteAddress: z.string().nullable(),
  requestId: z.string(),
  server: z.string(),
  durationMs: z.number(),
});

export const systemAudit = defineHandler({
  name: "system.audit",
  description:
    "The audit trail of state-changing calls (who, method, target, outcome, when, how long), newest first. Filters: method, actor (a session id, instance id or client address), target (a task or instance id), outcome (ok or an error code such as NOT_FOUND), since (ISO time or epoch ms). Reads the database when one is configured, else the capped audit stream; records appear within about a second of the call.",
  input: z.object({
    method: z.string().min(1).max(200).optional(),
    actor: z.string().min(1).max(200).optional().describe("A session id, instance id or client address"),
    target: z.string().min(1).max(200).optional().describe("A task or instance id"),
    outcome: outcome.optional().describe('"ok" or an error code'),
    since: z
      .union([z.number().int().min(0), z.iso.datetime({ offset: true })])
      .optional()
      .describe("Only calls that started at or after this time (ISO 8601 or epoch ms)"),
    limit: z.number().int().min(1).max(1000).default(100),
  }),
  output: z.object({
    records: z.array(auditRecord),
    source: z.enum(["database", "stream"]),
    /** The stream scan stopped at its bound before reaching the oldest record. */
    truncated: z.boolean(),
  }),
  expose: { mcp: { annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false } } },
  handle: async (input, ctx) => {
    const query: AuditQuery = {
      limit: input.limit,
      ...(input.method !== undefined && { method: input.method }),
      ...(input.actor !== undefined && { actor: input.actor }),
      ...(input.target !== undefined && { target: input.target }),
      ...(input.outcome !== undefined && { outcome: input.outcome }),
      ...(input.since !== undefined && {
        since: typeof input.since === "number" ? input.since : Date.parse(input.since),
      }),
    };
    if (ctx.archive) {
      let records: AuditRecord[] | null = null;
      try {
        records = await ctx.archive.queryAudit(query);
      } catch (err) {
        // The database is away: the capped stream still holds the recent records.
        ctx.log.warn({ err }, "audit query: the database does not answer; reading the audit stream");
      }
      if (records) return { records, source: "database" as const, truncated: false };
    }
    const { records, truncated } = await ctx.auditStream.query(query);
    return { records, source: "stream" as const, truncated };
  },
});
