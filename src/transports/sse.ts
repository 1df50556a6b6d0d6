import type { ServerResponse } from "node:http";
import type { Logger } from "../core/logger.js";
import type { DomainEvent } from "../storage/event-log.js";
import type { EventQuery } from "./event-filter.js";
import { FlowControl } from "./event-flow.js";
import type { EventTail } from "./event-tail.js";

/**
 * `GET /events`: the live event stream as Server-Sent Events, filtered by the query
 * (event-filter.ts). Every event is sent as an unnamed SSE message (so
 * `EventSource.onmessage` sees them all) whose data is the DomainEvent JSON and whose id is
 * the stream id, so a reconnecting client resumes with `Last-Event-ID`.
 *
 * SSE has no close code: a client that falls `maxBufferedBytes` behind is cut off, and
 * reconnects with its Last-Event-ID to read the rest from the stream at its own pace.
 */

const HEARTBEAT_MS = 15_000;

export interface LiveEventOptions {
  tail: EventTail;
  maxBufferedBytes: number;
  log: Logger;
}

export async function serveEvents(res: ServerResponse, query: EventQuery, options: LiveEventOptions) {
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  const flow = new FlowControl(() => res.writableLength, options.maxBufferedBytes);
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
  unsubscribe = await options.tail.subscribe({
    filter: query.matches,
    deliver: send,
    ready: flow.ready,
    ...(query.afterId ? { afterId: query.afterId } : {}),
  });
  if (flow.closed) return unsubscribe();
  // The headers go out with this first write (unless a replay sent events before), only now
  // that the subscription is live: a client that sees the stream open receives every event
  // emitted from then on.
  res.write("retry: 2000\n\n");
  heartbeat = setInterval(() => res.write(": keep-alive\n\n"), HEARTBEAT_MS);
}
