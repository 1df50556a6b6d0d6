import { ConfigError, type ConfigFlags, isLoopback, loadConfig } from "../config.js";
import type { PluginReport } from "../core/context.js";
import { createLogger, LogFilter } from "../core/logger.js";
import { PluginDirError } from "../plugins/plugin-host.js";
import { startServer } from "../server.js";
import { DataDirLockedError } from "../storage/data-dir-lock.js";
import { RedisServerMissingError } from "../storage/embedded-redis.js";
import { redactUrl } from "../storage/redact-url.js";

interface ServeOptions extends Omit<ConfigFlags, "db"> {
  /** `--db <mode>` gives a string, `--no-db` false. */
  db?: string | boolean;
}

/** `claudebench serve`: start, print where we listen, stop cleanly on SIGINT/SIGTERM. */
export async function serveCommand(options: ServeOptions): Promise<void> {
  const { db, ...flags } = options;
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig({ ...flags, db: db === false ? "none" : typeof db === "string" ? db : undefined });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`claudebench: ${err.message}\nRun "claudebench serve --help" for the options.`);
      process.exit(2);
    }
    throw err;
  }
  const logFilter = new LogFilter();
  const log = createLogger(config.logLevel, { instanceId: config.instanceId }, logFilter);
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(config, { log, logFilter });
  } catch (err) {
    const known =
      err instanceof RedisServerMissingError ||
      err instanceof DataDirLockedError ||
      err instanceof PluginDirError;
    console.error(
      `claudebench: ${known ? (err as Error).message : `could not start: ${(err as Error).message}`}`,
    );
    log.flush();
    process.exit(1);
  }

  const embedded = server.embeddedRedis;
  // The private Redis' URL carries its password: show where the password is instead.
  const redis = embedded
    ? `private redis-server (pid ${embedded.pid}) at redis://127.0.0.1:${embedded.port} (password in ${embedded.passwordFile}), data in ${embedded.dataDir}, AOF on`
    : `${redactUrl(server.redisUrl)} (REDIS_URL)`;
  console.log(
    [
      `ClaudeBench ${server.dispatcher.services.version} · instance ${server.instanceId} · pid ${process.pid}`,
      `  listening  ${server.url}   (/rpc  /mcp  /events  /health  /openapi.json)`,
      `  redis      ${redis}`,
      `  database   ${database(server)}`,
      ...(config.diagnostics ? ["  diagnostics on: test.circuit is served (fails or sleeps on demand)"] : []),
      ...pluginLines(server.plugins.report()),
      `  auth       ${config.authToken ? "bearer token required" : `off (${isLoopback(config.host) ? "loopback only" : "open"})`}`,
      "Press Ctrl-C to stop.",
    ].join("\n"),
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    await server.close();
    log.info("stopped");
    log.flush();
    process.exit(0);
  };
  // SIGHUP: read the workflow files again (each problem is logged with its file).
  process.on("SIGHUP", () => {
    server.reloadWorkflows().catch((err) => log.error({ err }, "reloading the workflows failed"));
  });
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
}

/** The database line of the banner: the embedded store's process, port and password file. */
function database(server: Awaited<ReturnType<typeof startServer>>): string {
  const store = server.historyStore;
  if (!store) return server.database;
  return `PGlite in ${store.dir} (child process, pid ${store.pid()}) at 127.0.0.1:${store.port} (password in ${store.passwordFile}); starts in the background`;
}

/** The plugins line of the start-up banner, and one line per file or export that did not load. */
function pluginLines(report: PluginReport): string[] {
  if (!report.dir) return [];
  const handlers = report.files.flatMap((f) => f.extensions.filter((e) => e.kind === "handler"));
  return [
    `  plugins    ${report.dir}: ${handlers.length} handler(s) from ${report.files.length} file(s)${report.watching ? ", watching for changes" : ""}`,
    ...report.errors.map((e) => `  plugin error  ${e.file}: ${e.reason}`),
  ];
}
