import type { ServerResponse } from "node:http";
import type { DomainEvent, EventFeed } from "../contract/events.js";
import { AppError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import type { LiveEventBudget } from "./event-budget.js";
import type { EventQuery } from "./event-filter.js";
import { FlowControl } from "./event-flow.js";

/**
 * `GET /events`: the live event stream as Server-Sent Events, filtered by the query
 * (event-filter.ts). Every event is sent as an unnamed SSE message (so
 * `EventSource.onmessage` sees them all) whose data is the DomainEvent JSON and whose id is
 * the stream id, so a reconnecting client resumes with `Last-Event-ID`.
 *
 * SSE has no close code: a client that falls `maxBufferedBytes` behind is cut off, and
 * reconnects with its Last-Event-ID to read the rest from the stream at its own pace.
 *
 * The caller has taken the client's place in the budget (and gives it back when the response
 * closes) and started the tail, so that a full server or an unreachable Redis are refused with
 * a status (503) before the stream opens.
 */

const HEARTBEAT_MS = 15_000;

/** The answer (503) to a subscription while the event stream cannot be read (Redis away). */
export const streamUnavailable = () =>
  new AppError("UNAVAILABLE", "The event stream is unavailable; try again", { retryAfterMs: 1000 });

export interface LiveEventOptions {
  tail: EventFeed;
  maxBufferedBytes: number;
  budget: LiveEventBudget;
  log: Logger;
}

export async function serveEvents(
  res: ServerResponse,
  query: EventQuery,
  options: LiveEventOptions,
): Promise<void> {
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  const flow = new FlowControl(() => res.writableLength, options.maxBufferedBytes, options.budget);
  const send = (e: DomainEvent) => {
    if (flow.closed) return;
    if (flow.overflowing) {
      options.log.warn(
        { buffered: res.writableLength, lastEventId: e.id },
        "SSE client fell too far behind: disconnected",
      );
      flow.close();
      res.destroy();
      return;
    }
    const frame = `id: ${e.id}\ndata: ${JSON.stringify(e)}\n\n`;
    flow.send((onFlushed) => res.write(frame, onFlushed));
  };
  let heartbeat: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  res.on("close", () => {
    flow.close();
    clearInterval(heartbeat);
    unsubscribe?.();
  });
  try {
    unsubscribe = await options.tail.subscribe({
      filter: query.matches,
      deliver: send,
      ready: flow.ready,
      ...(query.afterId ? { afterId: query.afterId } : {}),
    });
  } catch (err) {
    // The replay could not read the stream (Redis went away): the client reconnects and resumes.
    options.log.warn({ err }, "SSE subscription failed; the client may reconnect with Last-Event-ID");
    res.destroy();
    return;
  }
  if (flow.closed) return unsubscribe();
  // The headers go out with this first write (unless a replay sent events before), only now
  // that the subscription is live: a client that sees the stream open receives every event
  // emitted from then on.
  res.write("retry: 2000\n\n");
  heartbeat = setInterval(() => res.write(": keep-alive\n\n"), HEARTBEAT_MS);
}
