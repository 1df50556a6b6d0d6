import { z } from "zod";
import type { AnyHandler } from "./handler.js";

type JsonSchema = Record<string, unknown>;

const cache = new WeakMap<z.ZodType, { input?: JsonSchema; output?: JsonSchema }>();

/**
 * Draft-07 JSON Schema of a Zod schema, as a request (`input`: fields with defaults are
 * optional) or as a result (`output`). Draft-07 because MCP clients validate with Ajv's
 * default dialect; `$schema` is dropped since the root must be a plain object schema.
 */
function toJsonSchema(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  let entry = cache.get(schema);
  if (!entry) {
    entry = {};
    cache.set(schema, entry);
  }
  const cached = entry[io];
  if (cached) return cached;
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, {
    io,
    target: "draft-7",
    unrepresentable: "any",
  });
  entry[io] = json;
  return json;
}

export const inputJsonSchema = (handler: AnyHandler) => toJsonSchema(handler.input, "input");
export const outputJsonSchema = (handler: AnyHandler) => toJsonSchema(handler.output, "output");
