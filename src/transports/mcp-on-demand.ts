import type { IncomingMessage, ServerResponse } from "node:http";
import type { RequestMeta } from "../core/context.js";

/** What the HTTP transport needs of the MCP endpoint. */
export interface McpHandler {
  handle(req: IncomingMessage, res: ServerResponse, body: unknown, meta: RequestMeta): Promise<void>;
  close(): Promise<void>;
}

/**
 * The MCP endpoint, loaded by the first request to `/mcp` rather than at start-up: the MCP SDK
 * with what it brings (hono, ajv, zod-to-json-schema) takes about 0.3 s of a 2-core machine to
 * load, a third of the server's start-up, while a Claude Code session connects once and waits
 * for that only the first time.
 */
export function mcpOnDemand(load: () => Promise<McpHandler>): McpHandler {
  let loading: Promise<McpHandler> | undefined;
  return {
    handle: async (req, res, body, meta) => {
      loading ??= load();
      return (await loading).handle(req, res, body, meta);
    },
    close: async () => {
      if (loading) await (await loading).close();
    },
  };
}
