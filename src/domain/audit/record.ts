import type { TransportName } from "../../core/context.js";
import type { ErrorCode } from "../../core/errors.js";
import type { AnyHandler } from "../../core/handler.js";

/**
 * The audit trail: one record per state-changing call — who (session, instance, address),
 * what (method, target), how it ended (ok or the error code), when and how long it took.
 *
 * Which calls are state-changing is read from the handler definition: every handler whose
 * MCP annotations do not declare `readOnlyHint: true`, which includes every handler kept
 * away from models (`mcp: false`: hooks and admin operations). A read-only handler must say
 * so in its annotations, or its calls are audited.
 */

export type AuditOutcome = "ok" | ErrorCode;

export interface AuditRecord {
  /** The audit stream's entry id (`<ms>-<seq>`), assigned when the record was written. */
  id: string;
  /** When the call started (ISO 8601, by the serving process's clock). */
  at: string;
  method: string;
  transport: TransportName;
  outcome: AuditOutcome;
  /** The task or instance the call was about (`taskId`, `id`, `instanceId` in the input, else the result). */
  target: string | null;
  sessionId: string | null;
  instanceId: string | null;
  remoteAddress: string | null;
  requestId: string;
  /** The server process that served the call. */
  server: string;
  durationMs: number;
}

/** A record before it is written: no stream id yet, the start time as epoch ms. */
export type PendingAuditRecord = Omit<AuditRecord, "id" | "at"> & { atMs: number };

export function isStateChanging(handler: AnyHandler): boolean {
  const { mcp } = handler.expose;
  return mcp === false || mcp.annotations.readOnlyHint !== true;
}

const TARGET_FIELDS = ["taskId", "id", "instanceId"] as const;

function targetIn(value: unknown): string | null {
  if (typeof value !== "object" || value === null) return null;
  const fields = value as Record<string, unknown>;
  for (const field of TARGET_FIELDS) {
    const v = fields[field];
    if (typeof v === "string" && v !== "") return v;
  }
  return null;
}

/** What a call was about: named in its input, else in its result (a created task's id). */
export const targetOf = (input: unknown, result: unknown): string | null =>
  targetIn(input) ?? targetIn(result);

/**
 * A record's stream entry: one field, `r`, holding the record as JSON. One argument per record
 * keeps the flush cheap for the server (the command is built and written once per argument)
 * and for Redis (docs/performance.md, "Task engine"); redis-cli shows it readably.
 */
const AUDIT_FIELD = "r";

export const auditEntry = (r: PendingAuditRecord): string => JSON.stringify(r);

/**
 * Entries written before records were JSON had one stream field per record field; they are
 * still read, so an upgrade loses none of the trail that is in Redis.
 */
const LEGACY_FIELDS = {
  atMs: "at",
  method: "method",
  transport: "transport",
  outcome: "outcome",
  target: "target",
  sessionId: "session",
  instanceId: "instance",
  remoteAddress: "address",
  requestId: "request",
  server: "server",
  durationMs: "ms",
} as const satisfies Record<keyof PendingAuditRecord, string>;

function pendingRecord(fields: string[]): Partial<PendingAuditRecord> | null {
  if (fields[0] === AUDIT_FIELD && fields.length === 2) {
    try {
      return JSON.parse(fields[1] as string) as Partial<PendingAuditRecord>;
    } catch {
      return null;
    }
  }
  const f = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i] as string, fields[i + 1] as string);
  const text = (key: keyof PendingAuditRecord) => f.get(LEGACY_FIELDS[key]);
  return {
    atMs: Number(text("atMs")), // NaN when absent: the entry id's time is used
    method: text("method"),
    transport: text("transport") as TransportName | undefined,
    outcome: text("outcome") as AuditOutcome | undefined,
    target: text("target") ?? null,
    sessionId: text("sessionId") ?? null,
    instanceId: text("instanceId") ?? null,
    remoteAddress: text("remoteAddress") ?? null,
    requestId: text("requestId"),
    server: text("server"),
    durationMs: Number(text("durationMs") ?? 0),
  };
}

/** One audit stream entry as a record; null for an entry without fields (trimmed while pending). */
export function parseAuditEntry([id, fields]: [string, string[] | null]): AuditRecord | null {
  const r = fields ? pendingRecord(fields) : null;
  if (!r?.method) return null;
  const at = Number(r.atMs);
  return {
    id,
    at: new Date(Number.isFinite(at) ? at : Number(id.slice(0, id.indexOf("-")))).toISOString(),
    method: r.method,
    transport: r.transport ?? "internal",
    outcome: r.outcome ?? "INTERNAL",
    target: r.target ?? null,
    sessionId: r.sessionId ?? null,
    instanceId: r.instanceId ?? null,
    remoteAddress: r.remoteAddress ?? null,
    requestId: r.requestId ?? "",
    server: r.server ?? "",
    durationMs: Number(r.durationMs ?? 0),
  };
}

/** What `system.audit` asks for; every field narrows the answer. */
export interface AuditQuery {
  method?: string;
  /** Matches the session id, the instance id or the address. */
  actor?: string;
  target?: string;
  outcome?: AuditOutcome;
  /** Calls that started at or after this time (epoch ms). */
  since?: number;
  limit: number;
}

export function matchesAudit(r: AuditRecord, q: AuditQuery): boolean {
  if (q.method !== undefined && r.method !== q.method) return false;
  if (q.target !== undefined && r.target !== q.target) return false;
  if (q.outcome !== undefined && r.outcome !== q.outcome) return false;
  if (
    q.actor !== undefined &&
    r.sessionId !== q.actor &&
    r.instanceId !== q.actor &&
    r.remoteAddress !== q.actor
  )
    return false;
  if (q.since !== undefined && Date.parse(r.at) < q.since) return false;
  return true;
}

/** The durable audit log (the database), when one is configured. */
export interface AuditArchive {
  /** Records matching the query, newest first. */
  queryAudit(query: AuditQuery): Promise<AuditRecord[]>;
}
