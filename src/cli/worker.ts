import { hostname } from "node:os";
import type { Command } from "commander";
import { ClaudeBenchClient } from "../client/http-client.js";
import { ShellWorker } from "../client/worker.js";
import { loadClientConfig } from "../client-config.js";
import { action, URL_OPTION, wholeNumber } from "./output.js";

/** The worker command's options as commander hands them over (defaults filled in). */
interface WorkerFlags {
  exec: string;
  id?: string;
  concurrency: number;
  leaseMs: number;
  pollMs: number;
  channel?: string;
  capabilities?: string;
  drain?: boolean;
  url?: string[];
  token?: string;
}

/** `claudebench worker --exec "<command>"`: run a shell command for each claimed task. */
export function registerWorkerCommand(program: Command): void {
  program
    .command("worker")
    .description("claim tasks and run a shell command for each (the task's JSON on stdin)")
    .requiredOption("-e, --exec <command>", "shell command run per task; exit 0 completes, other codes fail")
    .option("--id <workerId>", "worker id, also its instance id (default worker-<host>-<pid>)")
    .option("--concurrency <n>", "tasks run at once (the instance's maxTasks)", wholeNumber(1, 10_000), 1)
    .option(
      "--lease-ms <ms>",
      "lease length, renewed every third of it while the command runs; a result no server takes is sent again until it ends",
      wholeNumber(1000, 3_600_000),
      30_000,
    )
    .option("--poll-ms <ms>", "wait between claims when the queue is empty", wholeNumber(10, 3_600_000), 1000)
    .option("-c, --channel <channel>", "only tasks of this channel")
    .option("--capabilities <list>", "comma-separated capabilities this worker has")
    .option(
      "--drain",
      "exit once nothing is left for this worker: a claim finds nothing, nothing runs or is being recorded here, and no task it failed waits for its retry",
    )
    .option(...URL_OPTION)
    .option("--token <token>", "bearer token (env CLAUDEBENCH_TOKEN)")
    .action(
      action(async (opts: WorkerFlags) => {
        const workerId = opts.id ?? `worker-${hostname()}-${process.pid}`;
        const { urls, token } = loadClientConfig(opts);
        const client = new ClaudeBenchClient({ url: urls, token, instanceId: workerId });
        const worker = new ShellWorker({
          client,
          workerId,
          command: opts.exec,
          concurrency: opts.concurrency,
          leaseMs: opts.leaseMs,
          pollMs: opts.pollMs,
          channel: opts.channel,
          capabilities: opts.capabilities
            ?.split(",")
            .map((c) => c.trim())
            .filter(Boolean),
          drain: opts.drain,
          report: (line) => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`),
        });
        // a first signal stops in order (the summary follows when the worker has stopped); a second one quits at once
        const stop = (signal: string) => {
          console.log(`${signal}: stopping; releasing held tasks`);
          void worker.stop();
        };
        process.once("SIGINT", () => stop("SIGINT"));
        process.once("SIGTERM", () => stop("SIGTERM"));
        console.log(`worker ${workerId} on ${urls.join(", then ")}: ${opts.exec}`);
        await worker.start();
        console.log(worker.summary());
        process.exit(0);
      }),
    );
}
