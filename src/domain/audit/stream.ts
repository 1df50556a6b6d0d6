import type { Redis } from "ioredis";
import { type AuditQuery, type AuditRecord, matchesAudit, parseAuditEntry } from "./record.js";

/** Entries read per XREVRANGE. */
const PAGE = 1000;
/** At most this many entries are examined per query: a filter matching little stays bounded. */
const AUDIT_SCAN_MAX = 10_000;
/**
 * Records are written up to a flush interval after the call started, possibly by another
 * server whose clock differs a little: the scan for `since` goes this much further back.
 */
const SINCE_SLACK_MS = 60_000;

type RawEntry = [string, string[] | null];

/** The capped audit stream, read for system.audit when no database answers. */
export class AuditStream {
  constructor(
    private readonly redis: Redis,
    private readonly stream: string,
  ) {}

  /**
   * Queries the capped audit stream, newest first (XREVRANGE in pages), filtering in process.
   * `truncated` says the scan stopped at AUDIT_SCAN_MAX before it reached the stream's start.
   */
  async query(query: AuditQuery): Promise<{ records: AuditRecord[]; truncated: boolean }> {
    const records: AuditRecord[] = [];
    const floor = query.since === undefined ? "-" : String(Math.max(0, query.since - SINCE_SLACK_MS));
    let end = "+";
    let scanned = 0;
    while (records.length < query.limit) {
      if (scanned >= AUDIT_SCAN_MAX) return { records, truncated: true };
      const count = Math.min(PAGE, AUDIT_SCAN_MAX - scanned);
      const page = (await this.redis.xrevrange(this.stream, end, floor, "COUNT", count)) as RawEntry[];
      scanned += page.length;
      for (const entry of page) {
        const record = parseAuditEntry(entry);
        if (record && matchesAudit(record, query)) {
          records.push(record);
          if (records.length === query.limit) break;
        }
      }
      const last = page[page.length - 1];
      if (page.length < count || !last) break;
      end = `(${last[0]}`;
    }
    return { records, truncated: false };
  }
}
