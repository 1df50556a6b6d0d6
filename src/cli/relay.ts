import type { Command } from "commander";
import { formatEvent } from "../client/event-format.js";
import { follow } from "../client/event-stream.js";
import { loadClientConfig, wantsColour } from "../client-config.js";
import { action } from "./output.js";

/**
 * `claudebench relay`: tails the live events in the terminal, as aligned lines for a person
 * or as JSON lines (`--json`, one DomainEvent per line) for a program. It reads `GET /events`
 * (SSE) rather than the WebSocket: plain HTTP through any proxy, and Last-Event-ID is the
 * protocol's own resume, which the follower uses to reconnect by itself after the server
 * restarts or the connection drops without missing or repeating an event.
 */

interface RelayOptions {
  url?: string;
  token?: string;
  filter?: string;
  session?: string;
  instance?: string;
  task?: string;
  lastEventId?: string;
  json?: boolean;
}

export function registerRelayCommand(program: Command): void {
  program
    .command("relay")
    .description("print the live events as they happen (reconnects and resumes by itself)")
    .option("--filter <prefixes>", "only events whose name starts with one of these (comma list), e.g. task.")
    .option("--session <ids>", "only events about these Claude Code sessions (comma list)")
    .option("--instance <ids>", "only events naming these instances or workers (comma list)")
    .option("--task <ids>", "only events about these tasks (comma list), e.g. t-42")
    .option("--last-event-id <id>", "start with the events after this stream id (default: from now)")
    .option("--json", "one JSON event per line")
    .option("--url <url>", "server URL (env CLAUDEBENCH_URL, default http://127.0.0.1:3000)")
    .option("--token <token>", "bearer token (env CLAUDEBENCH_TOKEN)")
    .action(
      action(async (opts: RelayOptions) => {
        const { urls, token } = loadClientConfig(opts);
        const url = urls[0]; // one stream from one server: the first of a list
        const colour = !opts.json && wantsColour(process.stdout.isTTY);
        const stopped = new AbortController();
        const stop = () => stopped.abort();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
        process.stdout.on("error", stop); // e.g. EPIPE when piped into `head`
        await follow({
          url,
          ...(token ? { token } : {}),
          ...(opts.lastEventId ? { lastEventId: opts.lastEventId } : {}),
          filters: { prefix: opts.filter, session: opts.session, instance: opts.instance, task: opts.task },
          signal: stopped.signal,
          onEvent: (event) => {
            process.stdout.write(`${opts.json ? JSON.stringify(event) : formatEvent(event, colour)}\n`);
          },
          onConnected: (again) =>
            console.error(
              `claudebench relay: ${again ? "reconnected" : "connected"} to ${url} (Ctrl-C to stop)`,
            ),
          onReconnecting: (reason) => console.error(`claudebench relay: ${reason}; reconnecting to ${url} …`),
        });
      }),
    );
}
