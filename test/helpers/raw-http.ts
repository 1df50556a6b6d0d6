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
