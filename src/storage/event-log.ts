import type { Redis } from "ioredis";
import type { Keys } from "./keys.js";

/** One domain event as stored on the capped event stream and served to subscribers. */
export interface DomainEvent {
  /** The stream entry id (`<ms>-<seq>`): ordered, unique, usable to resume. */
  id: string;
  event: string;
  payload: Record<string, unknown>;
  /** Server process that emitted it. */
  source: string;
  /** Epoch milliseconds (from the stream id). */
  ts: number;
}

/** Appends domain events to one capped stream (`XADD ... MAXLEN ~`). */
export class EventLog {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly source: string,
    private readonly maxLen: number,
  ) {}

  emit = async (event: string, payload: Record<string, unknown>): Promise<string> => {
    const id = await this.redis.xadd(
      this.keys.events(),
      "MAXLEN",
      "~",
      this.maxLen,
      "*",
      "event",
      event,
      "source",
      this.source,
      "payload",
      JSON.stringify(payload),
    );
    return id as string;
  };
}

/**
 * Turns one raw stream entry into a DomainEvent; entries not written by EventLog, and entries
 * trimmed away while still pending in a consumer group (no fields), give null.
 */
export function parseEventEntry([id, fields]: [string, string[] | null]): DomainEvent | null {
  if (!fields) return null;
  let event: string | undefined;
  let source = "";
  let payload: Record<string, unknown> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const value = fields[i + 1] as string;
    switch (fields[i]) {
      case "event":
        event = value;
        break;
      case "source":
        source = value;
        break;
      case "payload":
        try {
          payload = JSON.parse(value);
        } catch {
          payload = {};
        }
        break;
    }
  }
  if (!event) return null;
  return { id, event, payload, source, ts: Number(id.slice(0, id.indexOf("-"))) };
}
