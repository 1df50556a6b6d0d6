import type { DomainEvent } from "../contract/events.js";
import { ClaudeBenchError } from "./http-client.js";

/**
 * Follows a server's live events over `GET /events` (SSE) for as long as the caller wants:
 * when the connection drops or the server restarts it reconnects by itself with
 * `Last-Event-ID`, so the events emitted meanwhile are replayed from the stream, none twice.
 * A connection silent for three server heartbeats (15 s each) counts as dropped.
 */

interface FollowOptions {
  /** Base URL of a server, e.g. http://127.0.0.1:3000 */
  url: string;
  token?: string;
  /** Filters as `GET /events` takes them: prefix, session, instance, task (comma lists). */
  filters?: Record<string, string | undefined>;
  /** Resume after this stream id. */
  lastEventId?: string;
  onEvent: (event: DomainEvent) => void;
  /** The stream is open: every event emitted from now on will be delivered. */
  onConnected?: (reconnected: boolean) => void;
  /** The connection was lost after it had been open; called once per loss. */
  onReconnecting?: (reason: string) => void;
  /** Stops following; `follow` then resolves. */
  signal: AbortSignal;
  idleTimeoutMs?: number;
}

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5000;

/** Why one connection ended: the stream closed or failed (retry), or the caller stopped. */
type Ended = { retry: true; reason: string } | { retry: false };

/**
 * Runs until `signal` aborts. Fails with a ClaudeBenchError when the first connection cannot
 * be made or the server refuses the request (token, filters): retrying would not help.
 */
export async function follow(options: FollowOptions): Promise<void> {
  const base = options.url.replace(/\/+$/, "");
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(options.filters ?? {})) if (value) query.set(name, value);
  const endpoint = `${base}/events${query.toString() ? `?${query}` : ""}`;
  let lastEventId = options.lastEventId;
  let connectedOnce = false;
  let failures = 0;

  while (!options.signal.aborted) {
    const headers: Record<string, string> = { accept: "text/event-stream" };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (lastEventId) headers["last-event-id"] = lastEventId;
    const attempt = new AbortController();
    const stop = () => attempt.abort();
    options.signal.addEventListener("abort", stop, { once: true });
    let ended: Ended;
    try {
      const response = await fetch(endpoint, { headers, signal: attempt.signal }).catch((err: Error) => {
        if (options.signal.aborted) return null;
        if (!connectedOnce) {
          throw new ClaudeBenchError(
            "NETWORK",
            `cannot reach ClaudeBench at ${base} (${(err.cause as Error | undefined)?.message ?? err.message})`,
          );
        }
        return err;
      });
      if (response === null) return;
      if (response instanceof Error) {
        ended = { retry: true, reason: "server not reachable" };
      } else if (response.status >= 500 && connectedOnce) {
        await response.body?.cancel();
        ended = { retry: true, reason: `the server answered ${response.status}` };
      } else {
        if (response.status !== 200) await refused(response, base);
        options.onConnected?.(connectedOnce);
        connectedOnce = true;
        failures = 0;
        ended = await readStream(response, attempt, options, (id) => {
          lastEventId = id;
        });
      }
    } finally {
      options.signal.removeEventListener("abort", stop);
    }
    if (!ended.retry || options.signal.aborted) return;
    if (failures === 0) options.onReconnecting?.(ended.reason);
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** failures++);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, delay);
      options.signal.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
  }
}

/** A non-200 answer: the server's error (the CLI adds what to do about it, by its code). */
async function refused(response: Response, base: string): Promise<never> {
  const body = (await response.json().catch(() => null)) as {
    error?: { code?: string; message?: string };
  } | null;
  const message = body?.error?.message ?? `HTTP ${response.status}`;
  if (response.status === 401) throw new ClaudeBenchError("UNAUTHORIZED", `${base} wants a token`);
  if (response.status === 404)
    throw new ClaudeBenchError(
      "METHOD_NOT_FOUND",
      `${base} has no /events endpoint: is it a ClaudeBench server?`,
    );
  throw new ClaudeBenchError(response.status === 400 ? "VALIDATION" : "UNAVAILABLE", message);
}

/** Reads SSE messages until the stream ends, fails, goes silent or the caller stops. */
async function readStream(
  response: Response,
  attempt: AbortController,
  options: FollowOptions,
  advance: (id: string) => void,
): Promise<Ended> {
  const idleMs = options.idleTimeoutMs ?? 45_000;
  let idle = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      idle = true;
      attempt.abort();
    }, idleMs);
  };
  arm();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      arm();
      buffer += decoder.decode(chunk, { stream: true });
      let end = buffer.indexOf("\n\n");
      while (end >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf("\n\n");
        const data = frame
          .split("\n")
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).replace(/^ /, ""))
          .join("\n");
        if (!data) continue; // comments (heartbeats) and the retry hint
        const event = JSON.parse(data) as DomainEvent;
        options.onEvent(event);
        advance(event.id);
      }
    }
    return { retry: true, reason: "the server closed the stream" };
  } catch {
    if (options.signal.aborted) return { retry: false };
    return { retry: true, reason: idle ? `no data for ${idleMs / 1000} s` : "the connection dropped" };
  } finally {
    clearTimeout(timer);
  }
}
