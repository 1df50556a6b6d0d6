import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Config, loadConfig } from "../../src/config.js";
import type { AnyHandler } from "../../src/core/handler.js";
import { createLogger, type Logger } from "../../src/core/logger.js";
import type { HookLink } from "../../src/extensions/hook-links/link.js";
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

/**
 * An in-process server on a free port against the given Redis, logging only errors. Its data
 * directory, policy file, plugin and workflow directories are in a fresh temporary directory
 * (removed when it closes), never the working directory's .claudebench/, which is the user's
 * (`overrides` names others).
 */
export async function startTestServer(
  options: TestServerOptions,
): Promise<RunningServer & { config: Config }> {
  const own = mkdtempSync(join(tmpdir(), "cb-server-"));
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
    dataDir: join(own, "data"),
    policyFile: join(own, "policy.json"),
    pluginsDir: join(own, "plugins"),
    workflowsDir: join(own, "workflows"),
    ...options.overrides,
  };
  let server: RunningServer;
  try {
    server = await startServer(config, {
      handlers: options.handlers ?? builtinHandlers,
      log: options.log ?? createLogger(process.env.TEST_LOG_LEVEL ?? "error"),
      clock: options.clock,
      hookLinks: options.hookLinks,
      subscriptions: options.subscriptions,
    });
  } catch (err) {
    rmSync(own, { recursive: true, force: true });
    throw err;
  }
  const close = server.close.bind(server);
  return Object.assign(server, {
    config,
    close: async () => {
      await close();
      rmSync(own, { recursive: true, force: true });
    },
  });
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
