import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { RequestMeta } from "../core/context.js";
import type { Dispatcher } from "../core/dispatch.js";
import { AppError, type ErrorCode, HTTP_STATUS, toAppError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { fromHttpPath, toHttpPath } from "../core/naming.js";
import { serveDashboard } from "../dashboard/static.js";
import { PROMETHEUS_CONTENT_TYPE } from "../observability/prometheus.js";
import { parseEventQuery } from "./event-filter.js";
import type { EventTail } from "./event-tail.js";
import { type JsonRpcResponse, jsonRpcError, parseJson, processJsonRpc, UNPARSEABLE } from "./jsonrpc.js";
import type { McpEndpoint } from "./mcp.js";
import { buildOpenApi } from "./openapi.js";
import { requestMeta } from "./request-meta.js";
import { serveEvents } from "./sse.js";
import { EventSockets } from "./websocket.js";

/**
 * Every HTTP endpoint on one node:http server (a framework would cost a large share of a
 * small request's time, see docs/performance.md):
 *   POST /rpc, /rpc/batch        JSON-RPC 2.0
 *   POST /{domain}/{action}      one handler, params as the JSON body
 *   POST /mcp                    MCP Streamable HTTP
 *   GET  /events                 live domain events (SSE)
 *   GET  /ws                     live domain events (WebSocket upgrade, websocket.ts)
 *   GET  /metrics                Prometheus text format (same token as the rest)
 *   GET  /health                 liveness/readiness (no token needed)
 *   GET  /openapi.json           the HTTP routes, generated from the handlers
 *   GET  /, /ui/*                the web dashboard (dashboard/static.ts; no token: it asks for one)
 */

export interface HttpTransportOptions {
  dispatcher: Dispatcher;
  mcp: McpEndpoint;
  tail: EventTail;
  /** Renders `GET /metrics`. */
  metrics: { render(): Promise<string> };
  authToken?: string;
  maxBodyBytes: number;
  /** Unsent bytes a live-event client may fall behind before it is disconnected. */
  eventClientBufferBytes: number;
  log: Logger;
  version: string;
}

const JSON_TYPE = "application/json";
const TOO_LARGE = Symbol("too large");

const digest = (s: string) => createHash("sha256").update(s).digest();

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": JSON_TYPE, "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(
  res: ServerResponse,
  err: AppError,
  headers?: Record<string, string>,
  status = HTTP_STATUS[err.code],
) {
  sendJson(
    res,
    status,
    { error: { code: err.code, message: err.message, data: err.data } },
    { ...retryHeaders(err), ...headers },
  );
}

/**
 * `Retry-After` (seconds) for errors that say when to come back, and for rate limits the
 * `RateLimit-*` fields of the IETF draft (limit, remaining, reset in seconds, policy).
 */
function retryHeaders(err: AppError): Record<string, string> {
  const retryAfterMs = err.data?.retryAfterMs;
  if (typeof retryAfterMs !== "number") return {};
  const seconds = String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
  if (err.code !== "RATE_LIMITED") return { "retry-after": seconds };
  const { limit, windowMs } = err.data as { limit: number; windowMs: number };
  return {
    "retry-after": seconds,
    "ratelimit-limit": String(limit),
    "ratelimit-remaining": "0",
    "ratelimit-reset": seconds,
    "ratelimit-policy": `${limit};w=${Math.ceil(windowMs / 1000)}`,
  };
}

/** A single JSON-RPC answer that failed with a wait time carries the same headers as a route's. */
function rpcRetryHeaders(response: JsonRpcResponse | JsonRpcResponse[]): Record<string, string> | undefined {
  if (Array.isArray(response) || !("error" in response)) return undefined;
  const { data, message } = response.error;
  const fields = data as (Record<string, unknown> & { code?: ErrorCode }) | undefined;
  if (!fields?.code || typeof fields.retryAfterMs !== "number") return undefined;
  return retryHeaders(new AppError(fields.code, message, fields));
}

function readBody(req: IncomingMessage, limit: number): Promise<string | typeof TOO_LARGE> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        resolve(TOO_LARGE);
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () =>
      resolve(chunks.length === 1 ? (chunks[0] as Buffer).toString() : Buffer.concat(chunks).toString()),
    );
    req.on("error", reject);
  });
}

function headerMeta(req: IncomingMessage): RequestMeta {
  return requestMeta(req.headers, req.socket.remoteAddress);
}

export class HttpTransport {
  readonly server: Server;
  #routes = new Map<string, string>();
  readonly #streams = new Set<ServerResponse>();
  readonly #tokenDigest: Buffer | null;
  readonly #sockets: EventSockets;
  #openapi: string | null = null;
  #inFlight = 0;
  #drained: (() => void) | null = null;

  constructor(private readonly options: HttpTransportOptions) {
    const { registry } = options.dispatcher.services;
    this.#buildRoutes();
    // Plugin handlers come and go: the route table and the OpenAPI document follow.
    registry.onChange(() => {
      this.#buildRoutes();
      this.#openapi = null;
    });
    this.#tokenDigest = options.authToken ? digest(options.authToken) : null;
    this.server = createServer((req, res) => {
      this.#inFlight++;
      res.once("close", () => {
        if (--this.#inFlight === 0) this.#drained?.();
      });
      this.#route(req, res).catch((err) => {
        options.log.error({ err, url: req.url }, "unhandled error in the HTTP layer");
        if (!res.headersSent) sendError(res, new AppError("INTERNAL", "Internal error"));
        else res.destroy();
      });
    });
    this.server.keepAliveTimeout = 65_000;
    this.#sockets = new EventSockets({
      tail: options.tail,
      maxBufferedBytes: options.eventClientBufferBytes,
      log: options.log,
      authorize: (req, url) => this.#authorized(req, url.searchParams.get("token")),
    });
    this.server.on("upgrade", (req, socket, head) => this.#sockets.upgrade(req, socket, head));
  }

  #buildRoutes(): void {
    const routes = new Map<string, string>();
    for (const handler of this.options.dispatcher.services.registry.list()) {
      if (handler.expose.http) routes.set(toHttpPath(handler.name), handler.name);
    }
    this.#routes = routes;
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /** Stops accepting, ends event streams, lets in-flight requests finish for up to `timeoutMs`. */
  async close(timeoutMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const stream of this.#streams) stream.end();
    await this.options.mcp.close();
    const socketsClosed = this.#sockets.close();
    this.server.closeIdleConnections();
    if (this.#inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.#drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.server.closeAllConnections();
    await socketsClosed;
    await closed;
  }

  /** `queryToken`: the WebSocket's `?token=`, for browsers, which cannot set its headers. */
  #authorized(req: IncomingMessage, queryToken?: string | null): boolean {
    if (!this.#tokenDigest) return true;
    const header = req.headers.authorization;
    const token = header?.startsWith("Bearer ") ? header.slice(7).trim() : queryToken;
    if (token == null) return false;
    return timingSafeEqual(digest(token), this.#tokenDigest);
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? "/";
    const queryAt = url.indexOf("?");
    const path = queryAt < 0 ? url : url.slice(0, queryAt);

    if (req.method === "GET" && path === "/health") return this.#health(res);
    if (serveDashboard(req, res, path, { auth: this.#tokenDigest !== null })) return;
    if (!this.#authorized(req)) {
      const unauthorized = new AppError("UNAUTHORIZED", "Unauthorized: send Authorization: Bearer <token>");
      const headers = { "www-authenticate": 'Bearer realm="claudebench"' };
      if (path === "/rpc" || path === "/rpc/batch")
        return sendJson(res, 401, jsonRpcError(null, unauthorized), headers);
      return sendError(res, unauthorized, headers);
    }

    if (req.method === "GET") {
      if (path === "/openapi.json") {
        this.#openapi ??= JSON.stringify(
          buildOpenApi(this.options.dispatcher.services.registry.list(), this.options.version),
        );
        res.writeHead(200, { "content-type": JSON_TYPE });
        res.end(this.#openapi);
        return;
      }
      if (path === "/metrics") {
        const text = await this.options.metrics.render();
        res.writeHead(200, { "content-type": PROMETHEUS_CONTENT_TYPE });
        res.end(text);
        return;
      }
      if (path === "/events") {
        const header = req.headers["last-event-id"];
        const lastEventId = typeof header === "string" ? header : undefined;
        let query: ReturnType<typeof parseEventQuery>;
        try {
          query = parseEventQuery(new URL(url, "http://localhost").searchParams, { lastEventId });
        } catch (err) {
          return sendError(res, toAppError(err));
        }
        this.#streams.add(res);
        res.once("close", () => this.#streams.delete(res));
        const { tail, eventClientBufferBytes, log } = this.options;
        return serveEvents(res, query, { tail, maxBufferedBytes: eventClientBufferBytes, log });
      }
    }
    if (path === "/mcp") return this.#mcp(req, res);
    if (req.method !== "POST") {
      return sendError(res, new AppError("METHOD_NOT_FOUND", `No route for ${req.method} ${path}`));
    }
    if (path === "/rpc" || path === "/rpc/batch") return this.#jsonRpc(req, res);
    const method = this.#routes.get(path) ?? this.#catchAllRoute(path);
    if (!method)
      return sendError(res, new AppError("METHOD_NOT_FOUND", `No route for POST ${path}`, { path }));
    return this.#handlerRoute(req, res, method);
  }

  /** A path no handler owns, but that a domain's catch-all serves (`/hook/<event>`). */
  #catchAllRoute(path: string): string | undefined {
    const name = fromHttpPath(path);
    return this.options.dispatcher.services.registry.resolve(name)?.expose.http ? name : undefined;
  }

  async #jsonRpc(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = await readBody(req, this.options.maxBodyBytes);
    if (text === TOO_LARGE) {
      return sendJson(res, 413, jsonRpcError(null, this.#tooLarge()));
    }
    const body = parseJson(text);
    if (body === UNPARSEABLE) {
      return sendJson(
        res,
        200,
        jsonRpcError(null, new AppError("PARSE_ERROR", "Parse error: the body is not JSON")),
      );
    }
    const response = await processJsonRpc(
      this.options.dispatcher,
      body,
      "jsonrpc",
      headerMeta(req),
      this.#signal(res),
    );
    if (response === null) {
      res.writeHead(204);
      res.end();
      return;
    }
    sendJson(res, 200, response, rpcRetryHeaders(response));
  }

  async #handlerRoute(req: IncomingMessage, res: ServerResponse, method: string): Promise<void> {
    const text = await readBody(req, this.options.maxBodyBytes);
    if (text === TOO_LARGE) return sendError(res, this.#tooLarge(), {}, 413);
    const params = text.trim() === "" ? {} : parseJson(text);
    if (params === UNPARSEABLE)
      return sendError(res, new AppError("PARSE_ERROR", "Parse error: the body is not JSON"));
    try {
      const result = await this.options.dispatcher.call({
        method,
        params,
        transport: "http",
        meta: headerMeta(req),
        signal: this.#signal(res),
      });
      sendJson(res, 200, result);
    } catch (err) {
      sendError(res, toAppError(err));
    }
  }

  async #mcp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: unknown;
    if (req.method === "POST") {
      const text = await readBody(req, this.options.maxBodyBytes);
      if (text === TOO_LARGE) return sendJson(res, 413, jsonRpcError(null, this.#tooLarge()));
      body = parseJson(text);
      if (body === UNPARSEABLE) {
        return sendJson(
          res,
          400,
          jsonRpcError(null, new AppError("PARSE_ERROR", "Parse error: the body is not JSON")),
        );
      }
    }
    await this.options.mcp.handle(req, res, body, headerMeta(req));
  }

  async #health(res: ServerResponse): Promise<void> {
    try {
      const health = (await this.options.dispatcher.call({
        method: "system.health",
        params: {},
        transport: "internal",
      })) as {
        status: string;
      };
      sendJson(res, health.status === "unhealthy" ? 503 : 200, health);
    } catch (err) {
      sendError(res, toAppError(err));
    }
  }

  #tooLarge(): AppError {
    return new AppError("INVALID_REQUEST", `Request body larger than ${this.options.maxBodyBytes} bytes`, {
      limit: this.options.maxBodyBytes,
    });
  }

  /**
   * Aborted when the client goes away before its answer is sent. The controller, not its
   * signal: the dispatcher creates the signal only if a handler reads it (see CallRequest).
   */
  #signal(res: ServerResponse): AbortController {
    const controller = new AbortController();
    res.once("close", () => {
      if (!res.writableFinished) controller.abort();
    });
    return controller;
  }
}
