import { Command, Option } from "commander";
import { VERSION } from "../version.js";
import { registerInitCommand } from "./init.js";
import { registerRelayCommand } from "./relay.js";
import { serveCommand } from "./serve.js";
import { registerTaskCommands } from "./task.js";
import { registerWorkerCommand } from "./worker.js";

/** The `claudebench` command. Each subcommand lives in its own module. */
const program = new Command()
  .name("claudebench")
  .description("Coordination server for fleets of AI coding agents")
  .version(VERSION)
  .showHelpAfterError();

program
  .command("serve")
  .description("run the server (a private redis-server unless REDIS_URL is set)")
  .option("-p, --port <port>", "HTTP port (env PORT, default 3000)")
  .option("--host <host>", "address to bind (env HOST, default 127.0.0.1; others need --auth-token)")
  .option("--redis-url <url>", "use this Redis instead of a private one (env REDIS_URL)")
  .option("--database-url <url>", "PostgreSQL for persistence (env DATABASE_URL)")
  .option("--db <mode>", "auto (PGlite with a private Redis), pglite or none (env DB_MODE)")
  .option("--no-db", "run without a database (same as --db none)")
  .option("--data-dir <dir>", "where the private Redis keeps its data (env DATA_DIR, default ./.claudebench)")
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

registerTaskCommands(program);
registerWorkerCommand(program);
registerInitCommand(program);
registerRelayCommand(program);

// bin/claudebench.js runs `hook` without loading this module (it must start fast); this entry
// lists it in the help and serves `node dist/cli/main.js hook`.
program
  .command("hook")
  .description("the command hook Claude Code runs: its hook JSON on stdin, the decision on stdout / exit 2")
  .option("--url <url>", "server URL (env CLAUDEBENCH_URL, default http://127.0.0.1:3000)")
  .option("--token <token>", "bearer token (env CLAUDEBENCH_TOKEN)")
  .option("--timeout-ms <ms>", "how long to wait for the server", "3000")
  .option(
    "--on-unavailable <mode>",
    "server unreachable: allow (proceed) or block (exit 2); env CLAUDEBENCH_ON_UNAVAILABLE, else .claudebench/policy.json onServerUnavailable",
  )
  .allowUnknownOption()
  .action(async () => {
    const { main } = await import("./hook.js");
    process.exitCode = await main(process.argv.slice(process.argv.indexOf("hook") + 1), process.env);
  });

await program.parseAsync(process.argv);
