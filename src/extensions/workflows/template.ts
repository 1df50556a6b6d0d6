import type { DomainEvent } from "../../contract/events.js";
import { fieldAt } from "../subscriptions/match.js";
import type { Condition } from "./schema.js";

/**
 * The small language of workflow files: `where` conditions on an event's fields, and `{{path}}`
 * templates that build a call's params from the event.
 *
 * Template roots: `event` (the whole event: id, event, payload, source, ts), `payload`, `id`
 * (the stream id), `name` (the event name), `source`, `ts`, `delivery.id` (the idempotence key)
 * and `delivery.attempt`. A string that is one template alone gives the value itself (an
 * object, a number); inside longer text a value is written as text (objects as JSON, a missing
 * value as nothing).
 */

const TEMPLATE_ROOTS = new Set(["event", "payload", "id", "name", "source", "ts", "delivery"]);

const ONE = /^\{\{\s*([^{}\s]+)\s*\}\}$/;
const ANY = /\{\{\s*([^{}\s]+)\s*\}\}/g;

export interface Delivery {
  id: string;
  attempt: number;
}

export function templateScope(event: DomainEvent, delivery: Delivery): Record<string, unknown> {
  return {
    event,
    payload: event.payload,
    id: event.id,
    name: event.event,
    source: event.source,
    ts: event.ts,
    delivery,
  };
}

const asText = (value: unknown) =>
  value === undefined || value === null ? "" : typeof value === "string" ? value : JSON.stringify(value);

/** The params with every template filled in from the scope. */
export function render(template: unknown, scope: Record<string, unknown>): unknown {
  if (typeof template === "string") {
    const whole = ONE.exec(template);
    if (whole) return fieldAt(scope, whole[1] as string);
    return template.replace(ANY, (_, path: string) => asText(fieldAt(scope, path)));
  }
  if (Array.isArray(template)) return template.map((item) => render(item, scope));
  if (typeof template === "object" && template !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(template)) {
      const rendered = render(value, scope);
      if (rendered !== undefined) out[key] = rendered;
    }
    return out;
  }
  return template;
}

/** Every template path in the params whose root is unknown (a typo caught when the file loads). */
export function unknownTemplatePaths(template: unknown): string[] {
  if (typeof template === "string")
    return [...template.matchAll(ANY)]
      .map((m) => m[1] as string)
      .filter((p) => !TEMPLATE_ROOTS.has(p.split(".")[0] as string));
  if (Array.isArray(template)) return template.flatMap(unknownTemplatePaths);
  if (typeof template === "object" && template !== null)
    return Object.values(template).flatMap(unknownTemplatePaths);
  return [];
}

/** Deep equality of JSON values. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

export function holds(condition: Condition, value: unknown): boolean {
  if (typeof condition !== "object" || condition === null) return same(value, condition);
  if ("eq" in condition) return same(value, condition.eq);
  if ("ne" in condition) return !same(value, condition.ne);
  if ("in" in condition) return condition.in.some((v) => same(value, v));
  return (value !== undefined && value !== null) === condition.exists;
}

/** A filter over events: every condition on its path holds. */
export function compileWhere(where: Record<string, Condition>): (event: DomainEvent) => boolean {
  const checks = Object.entries(where);
  return (event) => checks.every(([path, condition]) => holds(condition, fieldAt(event, path)));
}
