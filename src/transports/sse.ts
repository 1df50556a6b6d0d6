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
  res.write("retry: 2000\n\n");
  const matches = (e: DomainEvent) => prefixes.length === 0 || prefixes.some((p) => e.event.startsWith(p));
  const send = (e: DomainEvent) => res.write(`id: ${e.id}\ndata: ${JSON.stringify(e)}\n\n`);
  const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), HEARTBEAT_MS);
  let unsubscribe: (() => void) | undefined;
  let closed = false;
  res.on("close", () => {
    closed = true;
    clearInterval(heartbeat);
    unsubscribe?.();
  });
  unsubscribe = await tail.subscribe(matches, send, afterId);
  if (closed) unsubscribe();
}
