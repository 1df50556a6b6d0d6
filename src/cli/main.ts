import { Command } from "commander";
import { VERSION } from "../version.js";

/**
 * The `claudebench` command. Each subcommand lives in its own module, loaded only when that
 * subcommand runs: a client command (`task get`) is started for one call and must not pay for
 * loading the server (pino, ioredis, drizzle, PGlite, the MCP SDK, Zod), which cost it ~0.5 s
 * (docs/performance.md, "CLI start-up"). The help and an unknown command load them all.
 */
const SUBCOMMANDS: Record<string, () => Promise<(program: Command) => void>> = {
  serve: async () => (await import("./serve.js")).registerServeCommand,
  task: async () => (await import("./task.js")).registerTaskCommands,
  worker: async () => (await import("./worker.js")).registerWorkerCommand,
  init: async () => (await import("./init.js")).registerInitCommand,
  relay: async () => (await import("./relay.js")).registerRelayCommand,
  hook: async () => registerHookCommand,
};

// bin/claudebench.js runs `hook` without loading this module (it must start fast); this entry
// lists it in the help and serves `node dist/cli/main.js hook`.
function registerHookCommand(program: Command): void {
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
}

/** Which subcommands to register: the one named (first argument), none for --version, else all. */
function wanted(first: string | undefined): string[] {
  if (first === "--version" || first === "-V") return [];
  if (first !== undefined && Object.hasOwn(SUBCOMMANDS, first)) return [first];
  return Object.keys(SUBCOMMANDS);
}

const program = new Command()
  .name("claudebench")
  .description("Coordination server for fleets of AI coding agents")
  .version(VERSION)
  // A usage mistake (unknown option, bad value, missing argument) is one line like every other
  // error of the CLI, saying where the options are; subcommands inherit this.
  .configureOutput({
    outputError: (text, write) =>
      write(
        `claudebench: ${text
          .replace(/^error: /, "")
          .replace(/\s*\n\s*/g, " ")
          .trim()} (--help shows the options)\n`,
      ),
  });

for (const name of wanted(process.argv[2]))
  (await (SUBCOMMANDS[name] as () => Promise<(p: Command) => void>)())(program);

await program.parseAsync(process.argv);
