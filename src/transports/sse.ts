import type { IncomingMessage, ServerResponse } from "node:http";
import type { DomainEvent } from "../storage/event-log.js";
import type { EventTail } from "./event-tail.js";

/**
 * `GET /events`: the live event stream as Server-Sent Events. `?prefix=task.,hook.` keeps
 * only events whose name starts with one of the prefixes. Every event is sent as an unnamed
 * SSE message (so `EventSource.onmessage` sees them all) whose data is the DomainEvent JSON
 * and whose id is the stream id, so a reconnecting client resumes with `Last-Event-ID`.
 */

const HEARTBEAT_MS = 15_000;

export async function serveEvents(req: IncomingMessage, res: ServerResponse, url: URL, tail: EventTail) {
  const prefixes = (url.searchParams.get("prefix") ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  const resumeFrom = req.headers["last-event-id"] ?? url.searchParams.get("lastEventId") ?? undefined;
  const afterId = typeof resumeFrom === "string" && /^\d+-\d+$/.test(resumeFrom) ? resumeFrom : undefined;

  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  const matches = (e: DomainEvent) => prefixes.length === 0 || prefixes.some((p) => e.event.startsWith(p));
  const send = (e: DomainEvent) => res.write(`id: ${e.id}\ndata: ${JSON.stringify(e)}\n\n`);
  let heartbeat: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  let closed = false;
  res.on("close", () => {
    closed = true;
    clearInterval(heartbeat);
    unsubscribe?.();
  });
  unsubscribe = await tail.subscribe(matches, send, afterId);
  if (closed) return unsubscribe();
  // The headers go out with this first write, only now that the subscription is live: a
  // client that sees the stream open receives every event emitted from then on.
  res.write("retry: 2000\n\n");
  heartbeat = setInterval(() => res.write(": keep-alive\n\n"), HEARTBEAT_MS);
}
