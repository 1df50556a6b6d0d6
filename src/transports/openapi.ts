import { HTTP_STATUS } from "../core/errors.js";
import type { AnyHandler } from "../core/handler.js";
import { inputJsonSchema, outputJsonSchema } from "../core/json-schema.js";
import { domainOf, toHttpPath } from "../core/naming.js";

/** An OpenAPI 3.1 description of the `POST /{domain}/{action}` routes, generated from the handlers. */
export function buildOpenApi(handlers: readonly AnyHandler[], version: string): Record<string, unknown> {
  const errorResponse = {
    description: "Error",
    content: {
      "application/json": {
        schema: {
          type: "object",
          properties: {
            error: {
              type: "object",
              properties: { code: { type: "string" }, message: { type: "string" }, data: { type: "object" } },
              required: ["code", "message"],
            },
          },
        },
      },
    },
  };
  const statuses = [...new Set(Object.values(HTTP_STATUS))].sort();
  const paths: Record<string, unknown> = {};
  for (const handler of handlers) {
    if (!handler.expose.http) continue;
    paths[toHttpPath(handler.name)] = {
      post: {
        operationId: handler.name,
        summary: handler.description.split("\n")[0],
        description: handler.description,
        tags: [domainOf(handler.name)],
        requestBody: {
          required: false,
          content: { "application/json": { schema: inputJsonSchema(handler) } },
        },
        responses: {
          200: {
            description: "Result",
            content: { "application/json": { schema: outputJsonSchema(handler) } },
          },
          ...Object.fromEntries(statuses.map((s) => [String(s), errorResponse])),
        },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "ClaudeBench", version },
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    paths,
  };
}
