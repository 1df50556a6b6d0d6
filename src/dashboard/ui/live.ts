import type { LiveEvent } from "../model/store.js";

/**
 * The live event stream over `GET /ws`. A browser cannot set headers on a WebSocket, so the
 * token goes as `?token=`. When the socket drops (a server restart, a slow-client cut) it
 * reconnects by itself with `lastEventId`, and the server replays what was missed.
 */

export interface LiveOptions {
  token(): string | null;
  /** Where to resume: the last event applied, or undefined to start from now. */
  lastEventId(): string | undefined;
  onEvent(e: LiveEvent): void;
  onState(state: "open" | "closed", detail?: string): void;
  /** The connection was refused for want of a valid token. */
  onUnauthorized(): void;
}

const MAX_DELAY_MS = 10_000;

export function connectLive(options: LiveOptions): void {
  let delay = 500;
  const open = () => {
    const url = new URL("/ws", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    const token = options.token();
    if (token) url.searchParams.set("token", token);
    const after = options.lastEventId();
    if (after) url.searchParams.set("lastEventId", after);
    const socket = new WebSocket(url);
    let opened = false;
    socket.onopen = () => {
      opened = true;
      delay = 500;
      options.onState("open");
    };
    socket.onmessage = (m) => {
      try {
        options.onEvent(JSON.parse(String(m.data)) as LiveEvent);
      } catch {
        // a frame that is not an event: nothing to apply
      }
    };
    socket.onclose = async () => {
      options.onState("closed", opened ? "reconnecting…" : "server unreachable, retrying…");
      // A refused upgrade gives the page no status: ask an authenticated route whether it was the token.
      if (!opened && (await unauthorized(token))) options.onUnauthorized();
      setTimeout(open, delay);
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    };
  };
  open();
}

async function unauthorized(token: string | null): Promise<boolean> {
  try {
    const res = await fetch("/openapi.json", { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return res.status === 401;
  } catch {
    return false;
  }
}
