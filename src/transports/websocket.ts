import { type IncomingMessage, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import type { DomainEvent } from "../contract/events.js";
import { AppError, HTTP_STATUS, toAppError } from "../core/errors.js";
import { type EventQuery, parseEventQuery } from "./event-filter.js";
import { FlowControl } from "./event-flow.js";
import { type LiveEventOptions, streamUnavailable } from "./sse.js";

/**
 * `GET /ws` (WebSocket upgrade): the live event stream for clients that prefer a socket to
 * SSE. Same filters as `/events` (event-filter.ts), resume with `?lastEventId=`; each event
 * is one JSON text frame holding the DomainEvent (its `id` is the stream id to resume from).
 * Messages from the client are ignored.
 *
 * Every refusal happens before the upgrade, as a plain HTTP answer: 401 without the token,
 * 400 for a bad filter, 503 when the server serves its maximum of live-event clients or
 * cannot read the event stream. A ping every `heartbeatMs` drops clients that stop answering; a
 * client more than `maxBufferedBytes` behind is closed with 1013 (try again later) and
 * resumes from the stream when it reconnects.
 */

const WS_PATH = "/ws";
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_TOO_SLOW = 1013;
const CLOSE_UNAVAILABLE = 1011;

interface EventSocketOptions extends LiveEventOptions {
  /** Whether the upgrade request carries the token (`Authorization: Bearer` or `?token=`). */
  authorize: (req: IncomingMessage, url: URL) => boolean;
  /** The instance ClaudeBench registers for a session, which a `session=` filter also follows. */
  sessionInstanceId: (sessionId: string) => string;
  heartbeatMs?: number;
}

const retryAfter = (err: AppError): string[] => {
  const ms = err.data?.retryAfterMs;
  return typeof ms === "number" ? [`retry-after: ${Math.max(1, Math.ceil(ms / 1000))}`] : [];
};

/**
 * Answers an upgrade request with a plain HTTP error (with `Retry-After` when the error says
 * when to come back) and closes the socket.
 */
export function refuse(
  socket: Duplex,
  err: AppError,
  status = HTTP_STATUS[err.code],
  headers: string[] = [],
): void {
  const body = JSON.stringify({ error: { code: err.code, message: err.message, data: err.data } });
  // Destroyed once written: a client that never closes its side does not keep the socket.
  socket.once("finish", () => socket.destroy());
  socket.end(
    [
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
      "content-type: application/json",
      `content-length: ${Buffer.byteLength(body)}`,
      "connection: close",
      ...retryAfter(err),
      ...headers,
      "",
      body,
    ].join("\r\n"),
  );
}

export class EventSockets {
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  /** Open sockets, each with whether it answered the last ping. */
  readonly #clients = new Map<WebSocket, boolean>();
  readonly #heartbeat: NodeJS.Timeout;

  constructor(private readonly options: EventSocketOptions) {
    this.#heartbeat = setInterval(() => this.#beat(), options.heartbeatMs ?? 15_000);
  }

  /** Serves an upgrade request whose target is `url` (the caller checked host and origin). */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    if (url.pathname !== WS_PATH) {
      refuse(
        socket,
        new AppError("METHOD_NOT_FOUND", `No WebSocket endpoint at ${url.pathname}: use ${WS_PATH}`),
      );
      return;
    }
    if (!this.options.authorize(req, url)) {
      refuse(
        socket,
        new AppError("UNAUTHORIZED", "Unauthorized: send Authorization: Bearer <token> or ?token=<token>"),
        401,
        ['www-authenticate: Bearer realm="claudebench"'],
      );
      return;
    }
    let query: EventQuery;
    try {
      query = parseEventQuery(url.searchParams, {
        allow: ["token"],
        sessionInstanceId: this.options.sessionInstanceId,
      });
    } catch (err) {
      refuse(socket, toAppError(err));
      return;
    }
    let release: () => void;
    try {
      release = this.options.budget.admit();
    } catch (err) {
      refuse(socket, toAppError(err));
      return;
    }
    socket.once("close", release);
    // The tail must be running before the client sees the socket open: then every event
    // appended after the upgrade reaches the subscriber added in the same tick as the upgrade.
    this.options.tail.start().then(
      () => this.#wss.handleUpgrade(req, socket, head, (ws) => this.#serve(ws, query)),
      (err) => {
        this.options.log.warn({ err }, "WebSocket refused: the event stream is unavailable");
        refuse(socket, streamUnavailable());
      },
    );
  }

  /** Closes every socket with 1001 (going away); sockets that do not finish the close in 1 s are cut. */
  async close(): Promise<void> {
    clearInterval(this.#heartbeat);
    const open = [...this.#clients.keys()];
    const closed = open.map((ws) => new Promise((resolve) => ws.once("close", resolve)));
    for (const ws of open) ws.close(CLOSE_GOING_AWAY, "server shutting down");
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(closed), new Promise((resolve) => (timer = setTimeout(resolve, 1000)))]);
    clearTimeout(timer);
    for (const ws of this.#clients.keys()) ws.terminate();
  }

  #serve(ws: WebSocket, query: EventQuery): void {
    const { log, tail } = this.options;
    this.#clients.set(ws, true);
    ws.on("pong", () => this.#clients.set(ws, true));
    ws.on("error", (err) => log.debug({ err }, "WebSocket error"));
    const flow = new FlowControl(() => ws.bufferedAmount, this.options.maxBufferedBytes, this.options.budget);
    let unsubscribe: (() => void) | undefined;
    const deliver = (e: DomainEvent) => {
      if (flow.closed) return;
      if (flow.overflowing) {
        log.warn(
          { buffered: ws.bufferedAmount, lastEventId: e.id },
          "WebSocket client fell too far behind: closed",
        );
        flow.close();
        unsubscribe?.();
        ws.close(CLOSE_TOO_SLOW, "too slow: reconnect with lastEventId to resume");
        return;
      }
      const json = JSON.stringify(e);
      flow.send((onFlushed) => ws.send(json, onFlushed));
    };
    ws.on("close", () => {
      this.#clients.delete(ws);
      flow.close();
      unsubscribe?.();
    });
    // subscribe adds the subscriber synchronously, before its first await (see EventFeed).
    tail
      .subscribe({
        filter: query.matches,
        deliver,
        ready: flow.ready,
        ...(query.afterId ? { afterId: query.afterId } : {}),
      })
      .then(
        (stop) => {
          unsubscribe = stop;
          if (flow.closed) stop();
        },
        (err) => {
          log.warn({ err }, "WebSocket subscription failed");
          ws.close(CLOSE_UNAVAILABLE, "event stream unavailable: reconnect with lastEventId");
        },
      );
  }

  #beat(): void {
    for (const [ws, answered] of this.#clients) {
      if (!answered) {
        ws.terminate();
        continue;
      }
      this.#clients.set(ws, false);
      ws.ping();
    }
  }
}
