import { spawn } from "node:child_process";
import { WakeableSleep } from "../core/timers.js";
import type { Task } from "../domain/tasks/model.js";
import { type ClaudeBenchClient, ClaudeBenchError } from "./http-client.js";

/**
 * A worker that runs a shell command per task: it claims up to `concurrency` tasks, feeds
 * each task's JSON to the command on stdin, renews the lease while the command runs, and
 * completes (exit 0; stdout as the result, parsed as JSON when it is JSON) or fails it
 * (other exit codes; the end of stderr as the error). A completion also claims the next task
 * in the same call (task.complete with claimNext), so a busy worker needs one call per task.
 * `stop()` stops claiming, ends the running commands and releases their tasks so others take
 * them at once.
 */

export interface ShellWorkerOptions {
  client: ClaudeBenchClient;
  workerId: string;
  command: string;
  concurrency: number;
  leaseMs: number;
  /** Wait between claims when the queue was empty. */
  pollMs: number;
  channel?: string;
  capabilities?: string[];
  /** One line per event, for the terminal. */
  report: (line: string) => void;
}

interface Running {
  task: Task;
  child: ReturnType<typeof spawn>;
  lost: boolean;
}

const TAIL = 2000;

export class ShellWorker {
  readonly #running = new Map<string, Running>();
  /** Completions in flight that claim the next task: each holds a slot of the concurrency. */
  readonly #completing = new Set<Promise<void>>();
  #stopping = false;
  readonly #idle = new WakeableSleep();
  #loop: Promise<void> | null = null;

  constructor(private readonly options: ShellWorkerOptions) {}

  start(): Promise<void> {
    this.#loop = this.#run();
    return this.#loop;
  }

  /** Stops claiming, ends running commands and releases their tasks. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#idle.wake();
    const held = [...this.#running.values()];
    for (const run of held) {
      run.lost = true; // its outcome is no longer ours to report
      run.child.kill("SIGTERM");
    }
    await Promise.all([
      ...this.#completing,
      ...held.map((run) =>
        this.options.client.release(run.task, this.options.workerId).then(
          () => this.options.report(`↺ ${run.task.id} released`),
          (err) => this.options.report(`! ${run.task.id} could not be released: ${(err as Error).message}`),
        ),
      ),
    ]);
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { client, workerId, concurrency } = this.options;
    while (!this.#stopping) {
      const free = concurrency - this.#running.size - this.#completing.size;
      if (free <= 0) {
        await this.#idle.sleep(this.options.pollMs);
        continue;
      }
      let tasks: Task[] = [];
      try {
        const claimed = await client.claim({ workerId, ...this.#claimOptions(Math.min(free, 10)) });
        tasks = claimed.tasks;
      } catch (err) {
        this.options.report(`! claim failed: ${(err as Error).message}`);
      }
      if (this.#stopping) {
        await Promise.all(tasks.map((t) => client.release(t, workerId).catch(() => undefined)));
        return;
      }
      for (const task of tasks) this.#execute(task);
      if (tasks.length === 0) await this.#idle.sleep(this.options.pollMs);
    }
  }

  #claimOptions(maxTasks: number) {
    return {
      maxTasks,
      leaseMs: this.options.leaseMs,
      ...(this.options.channel ? { channel: this.options.channel } : {}),
      ...(this.options.capabilities ? { capabilities: this.options.capabilities } : {}),
    };
  }

  /** Completes a task and starts the next one claimed with it; the freed slot stays taken meanwhile. */
  #completeAndContinue(task: Task, result: unknown, seconds: string): void {
    const { client, workerId, report } = this.options;
    const completing: Promise<void> = client
      .completeAndClaim(task, workerId, result, this.#claimOptions(1))
      .then(
        async ({ tasks }) => {
          report(`✓ ${task.id} completed in ${seconds}s`);
          this.#completing.delete(completing);
          if (this.#stopping) {
            await Promise.all(tasks.map((t) => client.release(t, workerId).catch(() => undefined)));
            return;
          }
          for (const next of tasks) this.#execute(next);
        },
        (err) => {
          this.#completing.delete(completing);
          report(`! ${task.id}: ${(err as Error).message}`);
        },
      )
      .finally(() => this.#idle.wake());
    this.#completing.add(completing);
  }

  #execute(task: Task): void {
    const { client, workerId, report } = this.options;
    const started = Date.now();
    const child = spawn("/bin/sh", ["-c", this.options.command], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, CLAUDEBENCH_TASK_ID: task.id, CLAUDEBENCH_WORKER_ID: workerId },
    });
    const run: Running = { task, child, lost: false };
    this.#running.set(task.id, run);
    report(
      `▶ ${task.id} p${task.priority} attempt ${task.attempts}/${task.maxAttempts}: ${task.text.slice(0, 60)}`,
    );

    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d) => {
      stdout += d;
    });
    child.stderr?.on("data", (d) => {
      stderr = (stderr + d).slice(-TAIL);
    });
    child.stdin?.on("error", () => undefined); // a command that does not read its input
    child.stdin?.end(JSON.stringify(task));

    const renewal = setInterval(
      () => {
        client.renew(task, workerId, this.options.leaseMs).catch((err) => {
          if (err instanceof ClaudeBenchError && (err.code === "LEASE_LOST" || err.code === "NOT_FOUND")) {
            run.lost = true;
            report(`✗ ${task.id} lease lost (${err.message}); stopping its command`);
            child.kill("SIGTERM");
          }
        });
      },
      Math.max(250, Math.floor(this.options.leaseMs / 3)),
    );

    child.once("close", (code, signal) => {
      clearInterval(renewal);
      this.#running.delete(task.id);
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      if (!run.lost && code === 0 && !this.#stopping) {
        this.#completeAndContinue(task, parseOutput(stdout), seconds);
        return;
      }
      this.#idle.wake();
      if (run.lost) return;
      const outcome =
        code === 0
          ? client
              .complete(task, workerId, parseOutput(stdout))
              .then(() => report(`✓ ${task.id} completed in ${seconds}s`))
          : client
              .fail(task, workerId, stderr.trim() || `command exited with ${signal ?? `code ${code}`}`)
              .then(() => report(`✗ ${task.id} failed in ${seconds}s (exit ${signal ?? code})`));
      outcome.catch((err) => report(`! ${task.id}: ${(err as Error).message}`));
    });
  }
}

function parseOutput(stdout: string): unknown {
  const text = stdout.trim();
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return { stdout: text.slice(-64 * 1024) };
  }
}
