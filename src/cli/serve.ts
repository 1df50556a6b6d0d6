import { type Command, Option } from "commander";
import { type Config, ConfigError, type ConfigFlags, isLoopback, loadConfig } from "../config.js";
import { createLogger, LogFilter } from "../core/logger.js";
import { PluginDirError, type PluginReport } from "../extensions/plugins/plugin-host.js";
import { startServer } from "../server.js";
import { DataDirLockedError } from "../storage/data-dir-lock.js";
import { RedisServerMissingError } from "../storage/embedded-redis.js";
import { redactUrl } from "../storage/redact-url.js";

interface ServeOptions extends Omit<ConfigFlags, "db"> {
  /** `--db <mode>` gives a string, `--no-db` false. */
  db?: string | boolean;
}

export function registerServeCommand(program: Command): void {
  program
    .command("serve")
    .description("run the server (a private redis-server unless REDIS_URL is set)")
    .option("-p, --port <port>", "HTTP port (env PORT, default 3000)")
    .option("--host <host>", "address to bind (env HOST, default 127.0.0.1; others need --auth-token)")
    .option("--redis-url <url>", "use this Redis instead of a private one (env REDIS_URL)")
    .option("--database-url <url>", "PostgreSQL for persistence (env DATABASE_URL)")
    .option("--db <mode>", "auto (PGlite with a private Redis), pglite or none (env DB_MODE)")
    .option("--no-db", "run without a database (same as --db none)")
    .option(
      "--data-dir <dir>",
      "where the private Redis keeps its data (env DATA_DIR, default ./.claudebench)",
    )
    .option("--auth-token <token>", "require Authorization: Bearer <token> (env AUTH_TOKEN)")
    .option(
      "--auth-token-file <file>",
      "read the token from this file's first line, kept out of ps (env AUTH_TOKEN_FILE)",
    )
    .option("--instance-id <id>", "this server's id (env INSTANCE_ID)")
    .option("--key-prefix <prefix>", "prefix of every Redis key (env KEY_PREFIX, default cb)")
    .addOption(new Option("--log-level <level>", "log level (env LOG_LEVEL, default info)"))
    .option("--diagnostics", "also serve test.circuit, which fails or sleeps on demand (env DIAGNOSTICS)")
    .option(
      "--workflows <dir>",
      "workflow files (env WORKFLOWS_DIR, default ./.claudebench/workflows; SIGHUP reloads)",
    )
    .option(
      "--plugins <dir>",
      "load plugin handlers from this directory (env PLUGINS_DIR, default ./.claudebench/plugins)",
    )
    .option("--watch", "reload plugins when their files change (env WATCH_PLUGINS)")
    .action(serveCommand);
}

/** `claudebench serve`: start, print where we listen, stop cleanly on SIGINT/SIGTERM. */
async function serveCommand(options: ServeOptions): Promise<void> {
  const { db, ...flags } = options;
  let config: Config;
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
    console.error(`claudebench: ${whyNotStarted(err, config)}`);
    log.flush();
    process.exit(1);
  }

  // Before the banner: whoever waits for it (a supervisor, a test) may signal at once.
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
}

/** The database line of the banner: the embedded store's process, port and password file. */
function database(server: Awaited<ReturnType<typeof startServer>>): string {
  const store = server.historyStore;
  if (!store) return server.database;
  return `PGlite in ${store.dir} (child process, pid ${store.pid()}) at 127.0.0.1:${store.port} (password in ${store.passwordFile}); starts in the background`;
}

/** Why the server did not start, in one line that says what to do. */
function whyNotStarted(err: unknown, config: Config): string {
  if (
    err instanceof RedisServerMissingError ||
    err instanceof DataDirLockedError ||
    err instanceof PluginDirError
  )
    return err.message;
  const { code, syscall } = err as NodeJS.ErrnoException;
  const where = `${config.host}:${config.port}`;
  if (syscall === "listen" && code === "EADDRINUSE")
    return `${where} is in use (another claudebench serve?): pick a free port with --port <n> (env PORT), or stop what holds it`;
  if (syscall === "listen" && code === "EACCES")
    return `${where}: this user may not listen on port ${config.port}: pick one from 1024 up with --port <n> (env PORT)`;
  if (syscall === "listen" && code === "EADDRNOTAVAIL")
    return `${where}: ${config.host} is not an address of this machine: pick another with --host (env HOST)`;
  return `could not start: ${(err as Error).message}`;
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
