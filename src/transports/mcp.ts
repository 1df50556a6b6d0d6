import type { IncomingMessage, ServerResponse } from "node:http";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import type { RequestMeta } from "../core/context.js";
import type { Dispatcher } from "../core/dispatch.js";
import { type AppError, errorPayload, toAppError } from "../core/errors.js";
import { inputJsonSchema, outputJsonSchema } from "../core/json-schema.js";
import { fromToolName, toToolName } from "../core/naming.js";

/**
 * MCP over Streamable HTTP at `/mcp`, stateless: each POST gets a fresh protocol server
 * bound to that one HTTP exchange, so any server process can answer any request and no
 * session state has to be shared. One tool per handler exposed to MCP, named
 * `domain__action`, with input and output JSON Schemas from the handler's Zod schemas.
 */

/** Read-only views for a model's context, each answered by a handler through the pipeline. */
const RESOURCES = [
  {
    uri: "claudebench://tasks/pending",
    name: "pending-tasks",
    title: "Pending tasks",
    description: "The next 50 tasks waiting to be claimed, best first.",
    method: "task.list",
    params: { status: "pending", orderBy: "priority", order: "desc", limit: 50 },
  },
  {
    uri: "claudebench://tasks/stats",
    name: "queue-stats",
    title: "Queue statistics",
    description: "Tasks per status, queue depth, dead letters, wait and run times, per-worker load.",
    method: "task.stats",
    params: {},
  },
  {
    uri: "claudebench://instances",
    name: "instances",
    title: "Instances",
    description: "Registered agents, workers and Claude Code sessions with their load and last heartbeat.",
    method: "system.instances",
    params: {},
  },
] as const;

const MY_TASKS = /^claudebench:\/\/tasks\/assigned\/([^/]+)$/;

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

export class McpEndpoint {
  #tools: Tool[] | null = null;

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly version: string,
  ) {}

  tools(): Tool[] {
    this.#tools ??= this.dispatcher.services.registry
      .list()
      .filter((h) => h.expose.mcp !== false)
      .map((h) => {
        const mcp = h.expose.mcp as Exclude<typeof h.expose.mcp, false>;
        const output = outputJsonSchema(h);
        return {
          name: toToolName(h.name),
          ...(mcp.title ? { title: mcp.title } : {}),
          description: h.description,
          inputSchema: { ...inputJsonSchema(h), type: "object" } as Tool["inputSchema"],
          // structuredContent must be an object, so only object results declare a schema
          ...(output.type === "object" ? { outputSchema: output as Tool["outputSchema"] } : {}),
          annotations: mcp.annotations,
        };
      });
    return this.#tools;
  }

  async handle(req: IncomingMessage, res: ServerResponse, body: unknown, meta: RequestMeta): Promise<void> {
    if (req.method !== "POST") {
      // Stateless mode keeps no stream to resume and no session to delete.
      res.writeHead(405, { allow: "POST", "content-type": "application/json" });
      res.end(
        JSON.stringify({
          jsonrpc: "2.0",
          id: null,
          error: { code: -32000, message: "Method not allowed: this MCP endpoint is stateless, use POST" },
        }),
      );
      return;
    }
    const server = this.#createServer(meta);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on("close", () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  #createServer(meta: RequestMeta): Server {
    const server = new Server(
      { name: "claudebench", version: this.version },
      { capabilities: { tools: { listChanged: false }, resources: { listChanged: false } } },
    );
    server.setRequestHandler(ListResourcesRequestSchema, async () => ({
      resources: RESOURCES.map(({ uri, name, title, description }) => ({
        uri,
        name,
        title,
        description,
        mimeType: "application/json",
      })),
    }));
    server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({
      resourceTemplates: [
        {
          uriTemplate: "claudebench://tasks/assigned/{workerId}",
          name: "assigned-tasks",
          title: "Tasks held by a worker",
          description: "Tasks a worker or session (e.g. cc-<session id>) holds right now.",
          mimeType: "application/json",
        },
      ],
    }));
    server.setRequestHandler(ReadResourceRequestSchema, async (request) => {
      const { uri } = request.params;
      const fixed = RESOURCES.find((r) => r.uri === uri);
      const mine = MY_TASKS.exec(uri);
      if (!fixed && !mine) throw new McpError(ErrorCode.InvalidParams, `Unknown resource: ${uri}`);
      const result = await this.dispatcher
        .call({
          method: fixed ? fixed.method : "task.list",
          params: fixed
            ? fixed.params
            : { assignedTo: decodeURIComponent(mine?.[1] ?? ""), status: "in_progress" },
          transport: "internal",
          meta,
        })
        .catch((err) => {
          throw new McpError(ErrorCode.InvalidParams, toAppError(err).message);
        });
      return { contents: [{ uri, mimeType: "application/json", text: JSON.stringify(result) }] };
    });
    server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: this.tools() }));
    server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      const method = fromToolName(request.params.name);
      const tool = this.tools().find((t) => t.name === request.params.name);
      if (!tool) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${request.params.name}`);
      return this.#callTool(method, request.params.arguments ?? {}, meta, extra.signal, tool);
    });
    return server;
  }

  async #callTool(
    method: string,
    args: unknown,
    meta: RequestMeta,
    signal: AbortSignal,
    tool: Tool,
  ): Promise<CallToolResult> {
    try {
      const result = await this.dispatcher.call({ method, params: args, transport: "mcp", meta, signal });
      return {
        content: [{ type: "text", text: JSON.stringify(result) }],
        ...(tool.outputSchema && isPlainObject(result) ? { structuredContent: result } : {}),
      };
    } catch (err) {
      // Tool errors go back as results, so the model reads what went wrong and what to do.
      const appError: AppError = toAppError(err);
      const { message, data } = errorPayload(appError);
      return {
        isError: true,
        content: [{ type: "text", text: JSON.stringify({ error: { message, ...data } }) }],
      };
    }
  }
}
