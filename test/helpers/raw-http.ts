import { request } from "node:http";
import { connect } from "node:net";

/**
 * Requests a browser or an attacker could send but fetch will not: any Host header, any
 * request target, a raw WebSocket upgrade. For the guard and fuzz tests.
 */

export interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request with exactly these headers (Host included) and body. */
export function rawRequest(
  baseUrl: string,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<RawReply> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: options.method ?? "GET",
        path: options.path,
        headers: options.headers,
        setHost: options.headers?.host === undefined,
      },
      (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

/**
 * Writes `head` (request line and headers, CRLF-separated, without the blank line) to the
 * server's port as it is and resolves with everything the server sent before it closed the
 * connection (or after `timeoutMs`): for targets node:http would refuse to send.
 */
export function rawExchange(baseUrl: string, head: string, timeoutMs = 5000): Promise<string> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    let received = "";
    const socket = connect(Number(url.port), url.hostname, () => socket.write(`${head}\r\n\r\n`));
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(received);
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on("data", (chunk: Buffer) => {
      received += chunk;
    });
    socket.on("close", done);
    socket.on("error", done);
  });
}

/** The status code of a raw HTTP answer (`HTTP/1.1 400 Bad Request` → 400), or 0. */
export const statusOf = (answer: string) => Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1] ?? 0);

/** An answer read off a raw socket: status, headers (lower-case names) and body (de-chunked). */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface RawSendResult {
  /** Null when the server closed the connection, or let `timeoutMs` pass, without an answer. */
  answer: RawAnswer | null;
  timedOut: boolean;
}

/**
 * The bytes of one HTTP/1.1 request, exactly as given: any method, target and headers (names
 * and values are not checked, duplicates allowed). `Connection: close` is added so that the
 * server ends the exchange, and `Content-Length` for a body unless the headers set it (or
 * `Transfer-Encoding`).
 */
export function requestBytes(
  method: string,
  target: string,
  headers: [string, string][],
  body?: Buffer | string,
): Buffer {
  const names = new Set(headers.map(([name]) => name.toLowerCase()));
  const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
  const lines = [`${method} ${target} HTTP/1.1`, ...headers.map(([name, value]) => `${name}: ${value}`)];
  if (!names.has("connection")) lines.push("Connection: close");
  if (payload && !names.has("content-length") && !names.has("transfer-encoding")) {
    lines.push(`Content-Length: ${payload.length}`);
  }
  const head = Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
  return payload ? Buffer.concat([head, payload]) : head;
}

function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = body.indexOf("\r\n", at);
    if (eol < 0) break;
    const size = Number.parseInt(body.subarray(at, eol).toString("latin1"), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(body.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

function parseAnswer(data: Buffer, complete: boolean): RawAnswer | null {
  const headEnd = data.indexOf("\r\n\r\n");
  if (headEnd < 0) return null;
  const [statusLine = "", ...headerLines] = data.subarray(0, headEnd).toString("latin1").split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  // An interim answer (100 Continue) comes before the answer.
  if (status >= 100 && status < 200 && status !== 101)
    return parseAnswer(data.subarray(headEnd + 4), complete);
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  let body = data.subarray(headEnd + 4);
  if (complete && /chunked/i.test(headers["transfer-encoding"] ?? "")) body = dechunk(body);
  return { status, headers, body: body.toString("utf8") };
}

/**
 * Writes `bytes` to a fresh connection and reads the answer until the server closes it. An
 * answer that would stay open (101 Switching Protocols, an event stream) is returned as soon
 * as its head arrived, and the connection cut. `endAfterWrite` half-closes the connection
 * after writing (a client that goes away in the middle of its request).
 */
export function rawSend(
  baseUrl: string,
  bytes: Buffer,
  { timeoutMs = 10_000, endAfterWrite = false }: { timeoutMs?: number; endAfterWrite?: boolean } = {},
): Promise<RawSendResult> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (timedOut: boolean, open = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ answer: parseAnswer(Buffer.concat(chunks), !open), timedOut });
    };
    const socket = connect(Number(url.port), url.hostname, () => {
      socket.write(bytes);
      if (endAfterWrite) socket.end();
    });
    const timer = setTimeout(() => finish(true), timeoutMs);
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      const head = parseAnswer(Buffer.concat(chunks), false);
      if (
        head &&
        (head.status === 101 || (head.headers["content-type"] ?? "").startsWith("text/event-stream"))
      ) {
        finish(false, true);
      }
    });
    socket.on("close", () => finish(false));
    socket.on("error", () => finish(false));
  });
}
