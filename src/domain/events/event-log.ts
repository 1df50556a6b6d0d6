import type { Redis } from "ioredis";
import type { DomainEvent } from "../../contract/events.js";
import { isoTime } from "../../core/iso-time.js";
import type { Keys } from "../../storage/keys.js";
import { taskFromHash } from "../tasks/model.js";

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

  /** The `count` most recent events, newest first (entries that are not events left out). */
  async recent(count: number): Promise<DomainEvent[]> {
    if (count <= 0) return [];
    const raw = (await this.redis.xrevrange(this.keys.events(), "+", "-", "COUNT", count)) as [
      string,
      string[] | null,
    ][];
    return raw.flatMap((entry) => parseEventEntry(entry) ?? []);
  }
}

/**
 * Turns one raw stream entry into a DomainEvent; entries not written by EventLog, and entries
 * trimmed away while still pending in a consumer group (no fields), give null. A task event
 * comes out typed (see typeTaskEvent).
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
          payload = JSON.parse(value) ?? {};
        } catch {
          payload = {};
        }
        break;
    }
  }
  if (!event) return null;
  if (event.startsWith("task.") && !typeTaskEvent(payload)) return null;
  return { id, event, payload, source, ts: Number(id.slice(0, id.indexOf("-"))) };
}

/**
 * A task event's `task` is stored as the queue script wrote it: the task's Redis hash (every
 * value a string, times in epoch ms, metadata entries as `m:<key>` JSON texts). It is read
 * here, once per entry, into the Task that task.get answers; `retryAt` (task.retrying) into
 * ISO 8601 as task.fail answers it, and `changed` (task.updated) into paths of that task
 * (`metadata.<key>`), so every reader (SSE, WebSocket, the relay,
 * subscriptions, the persister, system.get_state) gets the typed shape. On the read side
 * because a script appends the event in the same atomic step as the transition, and
 * formatting dates in Lua would cost every transition; it also types what an older server
 * wrote. The stored hash is told by its `seq` field (text), which the typed task does not
 * have: a task a handler emits already typed is left as it is. False when the hash cannot be
 * read (no creation time: not the scripts' writing), an entry dropped like any foreign one.
 */
function typeTaskEvent(payload: Record<string, unknown>): boolean {
  const stored = payload.task as Record<string, string> | undefined;
  if (typeof stored !== "object" || stored === null || typeof stored.seq !== "string") return true;
  try {
    payload.task = taskFromHash(stored);
  } catch {
    return false;
  }
  if (typeof payload.retryAt === "number") payload.retryAt = isoTime(payload.retryAt);
  if (Array.isArray(payload.changed)) payload.changed = payload.changed.map(fieldPath);
  return true;
}

/** A field name of the hash as a path in the typed task: a metadata entry `m:<key>` is `metadata.<key>`. */
const fieldPath = (field: unknown) =>
  typeof field === "string" && field.startsWith("m:") ? `metadata.${field.slice(2)}` : field;
