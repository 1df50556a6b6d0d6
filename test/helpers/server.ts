import { type Config, loadConfig } from "../../src/config.js";
import type { AnyHandler } from "../../src/core/handler.js";
import { createLogger, type Logger } from "../../src/core/logger.js";
import type { HookLink } from "../../src/domain/hooks/link.js";
import type { Subscription } from "../../src/extensions/subscriptions/define.js";
import { builtinHandlers } from "../../src/handlers/index.js";
import { type RunningServer, startServer } from "../../src/server.js";
import { uniquePrefix } from "./redis.js";

export interface TestServerOptions {
  redisUrl: string;
  keyPrefix?: string;
  authToken?: string;
  instanceId?: string;
  handlers?: readonly AnyHandler[];
  overrides?: Partial<Config>;
  clock?: () => number;
  /** Event subscriptions to run (startServer's `subscriptions`). */
  subscriptions?: readonly Subscription[];
  /** The server's logger; by default errors only, to stderr. */
  log?: Logger;
  /** Hook links besides the built-in ones. */
  hookLinks?: readonly HookLink[];
}

/** An in-process server on a free port against the given Redis, logging only errors. */
export async function startTestServer(
  options: TestServerOptions,
): Promise<RunningServer & { config: Config }> {
  const config = {
    ...loadConfig(
      {
        port: 0,
        host: "127.0.0.1",
        redisUrl: options.redisUrl,
        keyPrefix: options.keyPrefix ?? uniquePrefix(),
        authToken: options.authToken,
        instanceId: options.instanceId,
        logLevel: "error",
      },
      {},
    ),
    ...options.overrides,
  };
  const server = await startServer(config, {
    handlers: options.handlers ?? builtinHandlers,
    log: options.log ?? createLogger(process.env.TEST_LOG_LEVEL ?? "error"),
    clock: options.clock,
    hookLinks: options.hookLinks,
    subscriptions: options.subscriptions,
  });
  return Object.assign(server, { config });
}

/** An HTTP answer with its JSON body parsed (null when empty). */
export interface HttpReply {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON the server sent
  body: any;
}

/** POST a JSON-RPC body (object, array or raw text) to /rpc. */
export async function rpc(
  baseUrl: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<HttpReply> {
  const res = await fetch(`${baseUrl}/rpc`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

/** POST params to the handler route /{domain}/{action}. */
export async function post(
  baseUrl: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<HttpReply> {
  const res = await fetch(`${baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}
