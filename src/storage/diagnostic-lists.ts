import type { Redis } from "ioredis";
import type { Keys } from "./keys.js";

/**
 * The named lists the diagnostic handler `test.record` appends to, so that tests can count and
 * order side effects across server processes (served only with diagnostics on).
 */
export class DiagnosticLists {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  /** Appends `value` to the list; resolves with the list's length after. */
  append(list: string, value: string): Promise<number> {
    return this.redis.rpush(this.keys.diagnosticRecord(list), value);
  }
}
