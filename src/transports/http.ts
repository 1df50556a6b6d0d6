import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import type { EventFeed } from "../contract/events.js";
import type { JsonRpcResponse } from "../contract/jsonrpc.js";
import type { RequestMeta } from "../core/context.js";
import type { Dispatcher } from "../core/dispatch.js";
import { AppError, type ErrorCode, HTTP_STATUS, toAppError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { fromHttpPath, toHttpPath } from "../core/naming.js";
import { LiveEventBudget } from "./event-budget.js";
import { parseEventQuery } from "./event-filter.js";
import { jsonRpcError, parseJson, processJsonRpc, UNPARSEABLE } from "./jsonrpc.js";
import type { McpHandler } from "./mcp-on-demand.js";
import { buildOpenApi } from "./openapi.js";
import { isJsonContentType, RequestGuard, requestTarget } from "./request-guard.js";
import { requestMeta } from "./request-meta.js";
import { serveEvents, streamUnavailable } from "./sse.js";
import { EventSockets, refuse } from "./websocket.js";

/**
 * Every HTTP endpoint on one node:http server (a framework would cost a large share of a
 * small request's time, see docs/performance.md):
 *   POST /rpc, /rpc/batch        JSON-RPC 2.0
 *   POST /{domain}/{action}      one handler, params as the JSON body
 *   POST /mcp                    MCP Streamable HTTP
 *   GET  /events                 live domain events (SSE)
 *   GET  /ws                     live domain events (WebSocket upgrade, websocket.ts)
 *   GET  /metrics                Prometheus text format (same token as the rest)
 *   GET  /health                 liveness/readiness (no token needed: then status, version, id)
 *   GET  /openapi.json           the HTTP routes, generated from the handlers
 *   GET  /, /ui/*                the web dashboard (publicPages; no token: it asks for one)
 *
 * Before anything else every request and upgrade passes the RequestGuard (Host and Origin,
 * request-guard.ts); JSON endpoints take only `Content-Type: application/json` bodies. No
 * request may end the process: whatever escapes a route is logged and answered 500.
 */

interface HttpTransportOptions {
  dispatcher: Dispatcher;
  mcp: McpHandler;
  tail: EventFeed;
  /** Renders `GET /metrics`, a document of type `contentType`. */
  metrics: { render(): Promise<string>; readonly contentType: string };
  /**
   * Pages anyone may read, served before the token check (the dashboard: its page holds no
   * data and asks for the token): true when `path` is one of them, which it then answers.
   */
  publicPages: (req: IncomingMessage, res: ServerResponse, path: string) => boolean;
  /** The instance ClaudeBench registers for a session, which a `session=` event filter also follows. */
  sessionInstanceId: (sessionId: string) => string;
  authToken?: string;
  /** Host names and origins a browser may use besides loopback and the server's own. */
  allowedHosts: readonly string[];
  allowedOrigins: readonly string[];
  maxBodyBytes: number;
  /** Entries one JSON-RPC batch may hold. */
  maxBatch: number;
  /** Unsent bytes a live-event client may fall behind before it is disconnected. */
  eventClientBufferBytes: number;
  /** Live-event clients at once, and unsent bytes across them. */
  eventClientsMax: number;
  eventBuffersTotalBytes: number;
  log: Logger;
  version: string;
}

const JSON_TYPE = "application/json";
const TOO_LARGE = Symbol("too large");
/** The client went away before its body was complete: there is no one to answer. */
const CLIENT_GONE = Symbol("client gone");

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

const BEARER = /^bearer[ \t]+(.*)$/i;
const MALFORMED_TARGET = () => new AppError("INVALID_REQUEST", "Malformed request target");
const notJson = (contentType: string | undefined) =>
  new AppError(
    "INVALID_REQUEST",
    `Unsupported content type ${JSON.stringify(contentType ?? "(none)")}: send Content-Type: application/json`,
  );

function readBody(
  req: IncomingMessage,
  limit: number,
): Promise<string | typeof TOO_LARGE | typeof CLIENT_GONE> {
  return new Promise((resolve) => {
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
    // A request stream errs only when the connection closes before the body is complete.
    req.on("error", () => resolve(CLIENT_GONE));
  });
}

const answerJsonRpc = (res: ServerResponse, status: number, err: AppError) =>
  sendJson(res, status, jsonRpcError(null, err));
const answerRoute = (res: ServerResponse, status: number, err: AppError) => sendError(res, err, {}, status);

function headerMeta(req: IncomingMessage): RequestMeta {
  return requestMeta(req.headers, req.socket.remoteAddress);
}

export class HttpTransport {
  readonly server: Server;
  #routes = new Map<string, string>();
  readonly #streams = new Set<ServerResponse>();
  readonly #tokenDigest: Buffer | null;
  readonly #sockets: EventSockets;
  readonly #guard: RequestGuard;
  readonly #budget: LiveEventBudget;
  #openapi: string | null = null;
  #inFlight = 0;
  #drained: (() => void) | null = null;

  constructor(private readonly options: HttpTransportOptions) {
    const { registry } = options.dispatcher;
    this.#buildRoutes();
    // Plugin handlers come and go: the route table and the OpenAPI document follow.
    registry.onChange(() => {
      this.#buildRoutes();
      this.#openapi = null;
    });
    this.#tokenDigest = options.authToken ? digest(options.authToken) : null;
    this.#guard = new RequestGuard({
      allowedHosts: options.allowedHosts,
      allowedOrigins: options.allowedOrigins,
      authRequired: this.#tokenDigest !== null,
    });
    this.#budget = new LiveEventBudget(options.eventClientsMax, options.eventBuffersTotalBytes);
    this.server = createServer((req, res) => {
      this.#inFlight++;
      res.once("close", () => {
        if (--this.#inFlight === 0) this.#drained?.();
      });
      // The last resort (#route is async: whatever it throws arrives here): nothing a request
      // does may end the process.
      this.#route(req, res).catch((err) => this.#crashed(err, req, res));
    });
    this.server.keepAliveTimeout = 65_000;
    this.#sockets = new EventSockets({
      tail: options.tail,
      maxBufferedBytes: options.eventClientBufferBytes,
      budget: this.#budget,
      log: options.log,
      sessionInstanceId: options.sessionInstanceId,
      authorize: (req, url) => this.#authorized(req, url.searchParams.get("token")),
    });
    this.server.on("upgrade", (req, socket: Duplex, head: Buffer) => {
      socket.on("error", () => socket.destroy());
      try {
        const refused = this.#guard.check(req);
        if (refused) return refuse(socket, refused, 403);
        const url = requestTarget(req.url);
        if (!url) return refuse(socket, MALFORMED_TARGET());
        this.#sockets.upgrade(req, socket, head, url);
      } catch (err) {
        options.log.error({ err, url: req.url }, "unhandled error in a WebSocket upgrade");
        refuse(socket, new AppError("INTERNAL", "Internal error"));
      }
    });
  }

  /** Logs what escaped a route and answers 500 (or cuts the connection once the answer began). */
  #crashed(err: unknown, req: IncomingMessage, res: ServerResponse): void {
    this.options.log.error({ err, url: req.url }, "unhandled error in the HTTP layer");
    if (!res.headersSent) sendError(res, new AppError("INTERNAL", "Internal error"));
    else res.destroy();
  }

  #buildRoutes(): void {
    const routes = new Map<string, string>();
    for (const handler of this.options.dispatcher.registry.list()) {
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

  /**
   * `queryToken`: the WebSocket's `?token=`, for browsers, which cannot set its headers. The
   * scheme name is case-insensitive (RFC 7235): `bearer` works as well as `Bearer`.
   */
  #authorized(req: IncomingMessage, queryToken?: string | null): boolean {
    if (!this.#tokenDigest) return true;
    const header = req.headers.authorization;
    const token = (header !== undefined ? BEARER.exec(header)?.[1]?.trim() : undefined) ?? queryToken;
    if (token == null) return false;
    return timingSafeEqual(digest(token), this.#tokenDigest);
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? "/";
    const queryAt = url.indexOf("?");
    const path = queryAt < 0 ? url : url.slice(0, queryAt);

    const refused = this.#guard.check(req);
    if (refused) return sendError(res, refused, {}, 403);
    if (req.method === "GET" && path === "/health") return this.#health(res, this.#authorized(req));
    if (this.options.publicPages(req, res, path)) return;
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
          buildOpenApi(this.options.dispatcher.registry.list(), this.options.version),
        );
        res.writeHead(200, { "content-type": JSON_TYPE });
        res.end(this.#openapi);
        return;
      }
      if (path === "/metrics") {
        const text = await this.options.metrics.render();
        res.writeHead(200, { "content-type": this.options.metrics.contentType });
        res.end(text);
        return;
      }
      if (path === "/events") return this.#events(req, res);
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
    return this.options.dispatcher.registry.resolve(name)?.expose.http ? name : undefined;
  }

  async #events(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const header = req.headers["last-event-id"];
    const lastEventId = typeof header === "string" ? header : undefined;
    const url = requestTarget(req.url);
    if (!url) return sendError(res, MALFORMED_TARGET());
    let query: ReturnType<typeof parseEventQuery>;
    let release: () => void;
    try {
      query = parseEventQuery(url.searchParams, {
        lastEventId,
        sessionInstanceId: this.options.sessionInstanceId,
      });
      release = this.#budget.admit();
    } catch (err) {
      return sendError(res, toAppError(err));
    }
    // Before any wait: a client that leaves while the tail starts gives its place back.
    res.once("close", release);
    this.#streams.add(res);
    res.once("close", () => this.#streams.delete(res));
    const { tail, eventClientBufferBytes, log } = this.options;
    try {
      await tail.start();
    } catch (err) {
      log.warn({ err }, "SSE refused: the event stream is unavailable");
      return sendError(res, streamUnavailable());
    }
    if (res.destroyed) return;
    return serveEvents(res, query, {
      tail,
      maxBufferedBytes: eventClientBufferBytes,
      budget: this.#budget,
      log,
    });
  }

  /**
   * The body of a JSON endpoint, or null once an error has been answered (too large, or not
   * declared JSON). An empty body needs no content type.
   */
  async #jsonBody(
    req: IncomingMessage,
    res: ServerResponse,
    answer: (res: ServerResponse, status: number, err: AppError) => void,
  ): Promise<string | null> {
    const text = await readBody(req, this.options.maxBodyBytes);
    if (text === CLIENT_GONE) {
      res.destroy();
      return null;
    }
    if (text === TOO_LARGE) {
      answer(res, 413, this.#tooLarge());
      return null;
    }
    const contentType = req.headers["content-type"];
    if (text.trim() !== "" && !isJsonContentType(contentType)) {
      answer(res, 415, notJson(contentType));
      return null;
    }
    return text;
  }

  async #jsonRpc(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = await this.#jsonBody(req, res, answerJsonRpc);
    if (text === null) return;
    const body = parseJson(text);
    if (body === UNPARSEABLE) {
      return sendJson(
        res,
        200,
        jsonRpcError(null, new AppError("PARSE_ERROR", "Parse error: the body is not JSON")),
      );
    }
    const response = await processJsonRpc(this.options.dispatcher, body, {
      transport: "jsonrpc",
      maxBatch: this.options.maxBatch,
      meta: headerMeta(req),
      signal: this.#signal(res),
    });
    if (response === null) {
      res.writeHead(204);
      res.end();
      return;
    }
    sendJson(res, 200, response, rpcRetryHeaders(response));
  }

  async #handlerRoute(req: IncomingMessage, res: ServerResponse, method: string): Promise<void> {
    const text = await this.#jsonBody(req, res, answerRoute);
    if (text === null) return;
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
      const text = await this.#jsonBody(req, res, answerJsonRpc);
      if (text === null) return;
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

  /** Without the token (when one is set) only status, version and instance id: no cluster details. */
  async #health(res: ServerResponse, authorized: boolean): Promise<void> {
    try {
      const health = (await this.options.dispatcher.call({
        method: "system.health",
        params: {},
        transport: "internal",
      })) as { status: string; version: string; instanceId: string };
      const { status, version, instanceId } = health;
      sendJson(
        res,
        status === "unhealthy" ? 503 : 200,
        authorized ? health : { status, version, instanceId },
      );
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
