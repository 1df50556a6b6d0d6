import type { z } from "zod";

/**
 * Bounds on the free-form JSON callers send (docs/api.md, "Limits"). A value nested thousands
 * of levels deep overflows the stack of every recursive walk over it (JSON.stringify among
 * them): the dispatcher refuses params nested deeper than JSON_MAX_DEPTH before a handler sees
 * them, on every transport, and free-form fields that are stored are bounded in size by their
 * schema (`jsonAtMost`), so that one call cannot park megabytes in Redis.
 */

/** Levels of objects and arrays in one call's params (`{"a":[1]}` is 2). */
export const JSON_MAX_DEPTH = 64;

/** Serialised size of a stored free-form field: task results, notes, message data. */
export const FREE_FORM_MAX_BYTES = 256 * 1024;

/** Serialised size of a metadata object (tasks, instances). */
export const METADATA_MAX_BYTES = 64 * 1024;

/** Whether `value` nests objects and arrays deeper than `limit` levels. Iterative: safe at any depth. */
export function nestedDeeperThan(value: unknown, limit: number): boolean {
  if (typeof value !== "object" || value === null) return false;
  // Objects and arrays still to look into, each with its level (the value itself is level 1).
  const nodes: object[] = [value];
  const levels: number[] = [1];
  while (nodes.length > 0) {
    const node = nodes.pop() as Record<string, unknown>;
    const level = levels.pop() as number;
    if (level > limit) return true;
    for (const key in node) {
      const child = node[key];
      if (typeof child === "object" && child !== null) {
        nodes.push(child);
        levels.push(level + 1);
      }
    }
  }
  return false;
}

/** Refines `schema`: its value may take at most `maxBytes` as JSON (UTF-8). */
export function jsonAtMost<T extends z.ZodType>(maxBytes: number, schema: T): T {
  return schema.superRefine((value, ctx) => {
    const text = JSON.stringify(value);
    // A UTF-16 unit takes at most 3 bytes in UTF-8: most values need no byte count.
    if (text !== undefined && text.length * 3 > maxBytes && Buffer.byteLength(text) > maxBytes) {
      ctx.addIssue({
        code: "custom",
        message: `larger than ${maxBytes} bytes as JSON (the limit for this field)`,
        params: { limit: maxBytes },
      });
    }
  });
}
