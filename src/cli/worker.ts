import { hostname } from "node:os";
import type { Command } from "commander";
import { ClaudeBenchClient } from "../client/http-client.js";
import { ShellWorker } from "../client/worker.js";
import { loadClientConfig } from "../config.js";
import { action, URL_OPTION } from "./output.js";

/** The worker command's options as commander hands them over (defaults filled in). */
interface WorkerFlags {
  exec: string;
  id?: string;
  concurrency: string;
  leaseMs: string;
  pollMs: string;
  channel?: string;
  capabilities?: string;
  url?: string[];
  token?: string;
}

/** `claudebench worker --exec "<command>"`: run a shell command for each claimed task. */
export function registerWorkerCommand(program: Command): void {
  program
    .command("worker")
    .description("claim tasks and run a shell command for each (the task's JSON on stdin)")
    .requiredOption("-e, --exec <command>", "shell command run per task; exit 0 completes, other codes fail")
    .option("--id <workerId>", "worker id (default worker-<host>-<pid>)")
    .option("--concurrency <n>", "tasks run at once", "1")
    .option(
      "--lease-ms <ms>",
      "lease length, renewed every third of it while the command runs; a result no server takes is sent again until it ends",
      "30000",
    )
    .option("--poll-ms <ms>", "wait between claims when the queue is empty", "1000")
    .option("-c, --channel <channel>", "only tasks of this channel")
    .option("--capabilities <list>", "comma-separated capabilities this worker has")
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
          concurrency: Math.max(1, Number(opts.concurrency)),
          leaseMs: Number(opts.leaseMs),
          pollMs: Number(opts.pollMs),
          channel: opts.channel,
          capabilities: opts.capabilities
            ?.split(",")
            .map((c) => c.trim())
            .filter(Boolean),
          report: (line) => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`),
        });
        const stop = (signal: string) => {
          console.log(`${signal}: stopping; releasing held tasks`);
          void worker.stop().then(() => process.exit(0));
        };
        process.once("SIGINT", () => stop("SIGINT"));
        process.once("SIGTERM", () => stop("SIGTERM"));
        console.log(`worker ${workerId} on ${urls.join(", then ")}: ${opts.exec}`);
        await worker.start();
      }),
    );
}
