import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import {
  type AnyObjectSchema,
  getLiteralValue,
  getObjectShape,
  type SchemaOutput,
  safeParse,
} from "@modelcontextprotocol/sdk/server/zod-compat.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  isInitializeRequest,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  type Notification,
  ReadResourceRequestSchema,
  type Request,
  type Result,
  type ServerNotification,
  type ServerRequest,
  type ServerResult,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { RequestMeta } from "../core/context.js";
import type { Dispatcher } from "../core/dispatch.js";
import {
  type AppError,
  type ErrorCode as AppErrorCode,
  errorPayload,
  HTTP_STATUS,
  JSONRPC_CODES,
  toAppError,
} from "../core/errors.js";
import { inputJsonSchema, outputJsonSchema } from "../core/json-schema.js";
import type { Logger } from "../core/logger.js";
import { fromToolName, toToolName } from "../core/naming.js";
import { type HeaderRecord, requestMeta } from "./request-meta.js";

/**
 * MCP over Streamable HTTP at `/mcp`. One tool per handler exposed to MCP, named
 * `domain__action`, with input and output JSON Schemas from the handler's Zod schemas.
 *
 * Two ways to talk to it:
 *  - with a session: an `initialize` POST opens one (its id in `Mcp-Session-Id`); the
 *    client then may hold a GET stream, on which `notifications/tools/list_changed` arrives
 *    when plugin handlers come or go, and ends it with DELETE. Sessions live in this
 *    process's memory, expire after `sessionIdleMs` without a request or an open stream,
 *    and are capped at `maxSessions` (the least recently used one goes first).
 *  - without: any other POST with no session header (or with one this process does not
 *    know: another process's session behind a load balancer, or an expired one) gets a
 *    fresh protocol server bound to that one HTTP exchange, as before sessions existed.
 *    So requests work on any process; only notifications need the session's own process.
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

/** The worker of a `claudebench://tasks/assigned/{workerId}` URI; undefined for another URI or a malformed escape (`%E0%A4%A`). */
function assignedWorker(uri: string): string | undefined {
  const match = MY_TASKS.exec(uri);
  if (!match) return undefined;
  try {
    return decodeURIComponent(match[1] as string);
  } catch {
    return undefined;
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

interface McpSessionOptions {
  /** A session with neither a request nor an open stream for this long is closed. */
  sessionIdleMs: number;
  maxSessions: number;
  log: Logger;
}

interface Session {
  readonly transport: StreamableHTTPServerTransport;
  readonly server: Server;
  lastSeen: number;
  /** Open GET streams (notifications); a session with one is not idle. */
  streams: number;
}

type MetaOf = (headers: HeaderRecord | undefined) => RequestMeta;

type HandlerExtra = RequestHandlerExtra<ServerRequest | Request, ServerNotification | Notification>;

/**
 * The SDK's Server, with a malformed request answered -32602 (invalid params). The SDK parses
 * a request against its method's schema before the handler runs and answers a mismatch -32603
 * (internal error) with Zod's issues as the message: `tools/call` with a name that is not a
 * string, `initialize` without its fields, `resources/read` without a uri all looked like
 * faults of the server (found by the fuzz test). Every handler, the SDK's own (initialize,
 * ping) included, is registered behind a schema that checks only the method name, and the
 * method's schema is checked here.
 */
class ClientErrorServer extends Server {
  override setRequestHandler<T extends AnyObjectSchema>(
    requestSchema: T,
    handler: (
      request: SchemaOutput<T>,
      extra: HandlerExtra,
    ) => ServerResult | Result | Promise<ServerResult | Result>,
  ): void {
    const method = getLiteralValue(getObjectShape(requestSchema)?.method as AnyObjectSchema) as string;
    super.setRequestHandler(z.looseObject({ method: z.literal(method) }), (request, extra) => {
      const parsed = safeParse(requestSchema, request);
      if (!parsed.success) {
        const issues = (parsed.error as z.ZodError).issues.map((i) => `${i.path.join(".")}: ${i.message}`);
        throw new McpError(ErrorCode.InvalidParams, `Invalid ${method} request: ${issues.join("; ")}`);
      }
      return handler(parsed.data as SchemaOutput<T>, extra);
    });
  }
}

export class McpEndpoint {
  #tools: Tool[] | null = null;
  readonly #sessions = new Map<string, Session>();
  readonly #sweeper: NodeJS.Timeout;

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly version: string,
    private readonly options: McpSessionOptions,
  ) {
    dispatcher.registry.onChange(() => {
      this.#tools = null;
      for (const [id, session] of this.#sessions) {
        session.server.sendToolListChanged().catch((err) => {
          options.log.debug({ err, session: id }, "could not tell an MCP session that its tools changed");
        });
      }
    });
    this.#sweeper = setInterval(() => this.#expire(), Math.min(60_000, options.sessionIdleMs / 4));
    this.#sweeper.unref();
  }

  /** Ends every session (shutdown): their open streams close. */
  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    await Promise.all([...this.#sessions.keys()].map((id) => this.#end(id)));
  }

  tools(): Tool[] {
    this.#tools ??= this.dispatcher.registry
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
    ignoreTaskAugmentation(body);
    const sessionId = req.headers["mcp-session-id"];
    const session = typeof sessionId === "string" ? this.#sessions.get(sessionId) : undefined;
    if (session && typeof sessionId === "string") return this.#inSession(sessionId, session, req, res, body);
    if (req.method === "POST" && sessionId === undefined && isInitializeRequest(body)) {
      return this.#openSession(req, res, body, meta.remoteAddress);
    }
    if (req.method === "POST") return this.#stateless(req, res, body, meta);
    if (sessionId !== undefined) {
      return sendRpcError(
        res,
        HTTP_STATUS.SESSION_NOT_FOUND,
        "SESSION_NOT_FOUND",
        "Session not found: it expired or lives in another process; initialize a new one",
      );
    }
    // Without a session there is no stream to hold open and nothing to delete.
    res.setHeader("allow", "POST");
    return sendRpcError(
      res,
      405,
      "INVALID_REQUEST",
      "Method not allowed: GET and DELETE need an Mcp-Session-Id",
    );
  }

  async #openSession(
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
    remoteAddress: string | undefined,
  ): Promise<void> {
    const server = this.#createServer((headers) => requestMeta(headers ?? {}, remoteAddress));
    const session: Session = {
      server,
      lastSeen: Date.now(),
      streams: 0,
      transport: new StreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        enableJsonResponse: true,
        onsessioninitialized: (id) => {
          this.#sessions.set(id, session);
          if (this.#sessions.size > this.options.maxSessions) {
            const oldest = this.#sessions.keys().next().value as string;
            void this.#end(oldest);
          }
        },
        onsessionclosed: (id) => void this.#end(id),
      }),
    };
    await server.connect(session.transport);
    await session.transport.handleRequest(req, res, body);
    if (!session.transport.sessionId) {
      // The initialize request was refused: no session came of it.
      void session.transport.close();
      void server.close();
    }
  }

  async #inSession(
    id: string,
    session: Session,
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
  ): Promise<void> {
    // Most recently used last: the first entry is the one to evict.
    this.#sessions.delete(id);
    this.#sessions.set(id, session);
    session.lastSeen = Date.now();
    if (req.method === "GET") {
      session.streams++;
      res.once("close", () => {
        session.streams--;
        session.lastSeen = Date.now();
      });
    }
    await session.transport.handleRequest(req, res, body);
  }

  async #end(id: string): Promise<void> {
    const session = this.#sessions.get(id);
    if (!session) return;
    this.#sessions.delete(id);
    await session.transport.close().catch(() => undefined);
    await session.server.close().catch(() => undefined);
  }

  #expire(): void {
    const cutoff = Date.now() - this.options.sessionIdleMs;
    for (const [id, session] of this.#sessions) {
      if (session.streams === 0 && session.lastSeen < cutoff) void this.#end(id);
    }
  }

  async #stateless(req: IncomingMessage, res: ServerResponse, body: unknown, meta: RequestMeta) {
    const server = this.#createServer(() => meta);
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

  /** A protocol server; `metaOf` tells who calls from the request's headers. */
  #createServer(metaOf: MetaOf): Server {
    const server = new ClientErrorServer(
      { name: "claudebench", version: this.version },
      { capabilities: { tools: { listChanged: true }, resources: { listChanged: false } } },
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
    server.setRequestHandler(ReadResourceRequestSchema, async (request, extra) => {
      const meta = metaOf(extra.requestInfo?.headers);
      const { uri } = request.params;
      const fixed = RESOURCES.find((r) => r.uri === uri);
      const worker = fixed ? undefined : assignedWorker(uri);
      if (!fixed && worker === undefined)
        throw new McpError(ErrorCode.InvalidParams, `Unknown resource: ${uri}`);
      const result = await this.dispatcher
        .call({
          method: fixed ? fixed.method : "task.list",
          params: fixed ? fixed.params : { assignedTo: worker, status: "in_progress" },
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
      const meta = metaOf(extra.requestInfo?.headers);
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

/**
 * A request refused before the protocol server sees it, with a code of our table: the SDK answers
 * the same cases -32001 and -32000, which mean CIRCUIT_OPEN and RATE_LIMITED here (the original's).
 */
function sendRpcError(res: ServerResponse, status: number, code: AppErrorCode, message: string): void {
  res.writeHead(status, { "content-type": "application/json" });
  const error = { code: JSONRPC_CODES[code], message, data: { code } };
  res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error }));
}

/**
 * This server declares no `tasks` capability, and a receiver without it "MUST process requests
 * of that type normally, ignoring any task-augmentation metadata" (MCP 2025-11-25, Tasks). The
 * SDK instead refuses such a request with a plain Error, answered -32603 (internal error): the
 * field is dropped before the SDK sees it, so `tools/call` with `task` runs the tool as usual.
 */
function ignoreTaskAugmentation(body: unknown): void {
  for (const message of Array.isArray(body) ? body : [body]) {
    const params = isPlainObject(message) ? message.params : undefined;
    if (isPlainObject(params) && Object.hasOwn(params, "task")) delete params.task;
  }
}
