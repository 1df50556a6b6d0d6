import { type ChildProcess, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { WakeableSleep } from "../core/timers.js";
import type { Task } from "../domain/tasks/model.js";
import { type ClaudeBenchClient, ClaudeBenchError } from "./http-client.js";
import { resultFromOutput, STDOUT_KEPT_CHARS } from "./task-result.js";

/**
 * A worker that runs a shell command per task: it claims up to `concurrency` tasks, feeds
 * each task's JSON to the command on stdin, renews the lease while the command runs, and
 * completes (exit 0; stdout as the result, see task-result.ts) or fails it (other exit codes;
 * the end of stderr as the error). A completion also claims the next task in the same call
 * (task.complete with claimNext), so a busy worker needs one call per task.
 *
 * An outcome the server could not take (unreachable, or a passing failure) is sent again with
 * backoff until the lease held when the command ended is over (renewals stop with the
 * command, so this window is fixed): the fencing token makes a repeat safe, and a command's
 * work is not thrown away because a server died at the wrong moment. A completion the server
 * refuses for good is reported as the task's failure, so that the task does not wait out its
 * lease only to be run again. A task holds its slot until its outcome is recorded or its
 * lease is over.
 *
 * `stop()` stops claiming, ends the running commands and releases their tasks so others take
 * them at once; outcomes still being reported are waited for.
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

interface Held {
  task: Task;
  child: ChildProcess;
  /** No longer ours to report: the lease was lost, or stop() released the task. */
  lost: boolean;
  /**
   * When the lease ends, on this machine's clock: the moment the claim or the last renewal was
   * sent, plus leaseMs. The server counted from a later moment on its own clock, so this errs early.
   */
  leaseEndsAt: number;
  /** Set once the command has ended: its outcome being recorded. */
  reporting?: Promise<void>;
}

/** `why`: how the task failed, for the terminal (the exit code or signal, or a refused completion). */
type Outcome =
  | { kind: "complete"; result: unknown }
  | { kind: "fail"; error: string; retryable: boolean; why: string };

const TAIL = 2000;
/** Waits between attempts to record an outcome: doubling from the base up to the cap, with jitter. */
const RETRY_BASE_MS = 250;
const RETRY_MAX_MS = 5000;
/**
 * Attempts at one outcome that may end in INTERNAL. An INTERNAL answer may pass (a server that
 * broke mid-call) or repeat for as long as its cause lasts (a handler or plugin bug, a proxy's
 * odd reply): after these, it is taken as a refusal.
 */
const INTERNAL_ATTEMPTS = 3;

export class ShellWorker {
  /** Every task from its claim until its outcome is recorded (or it is lost): each takes a slot. */
  readonly #held = new Map<string, Held>();
  #stopping = false;
  readonly #idle = new WakeableSleep();
  #loop: Promise<void> | null = null;

  constructor(private readonly options: ShellWorkerOptions) {}

  start(): Promise<void> {
    this.#loop = this.#run();
    return this.#loop;
  }

  /** Stops claiming, ends running commands and releases their tasks; waits for outcomes being recorded. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#idle.wake();
    const { client, workerId, report } = this.options;
    const recording: Promise<void>[] = [];
    const releasing: Promise<void>[] = [];
    for (const held of this.#held.values()) {
      if (held.reporting) {
        recording.push(held.reporting);
        continue;
      }
      held.lost = true; // its outcome is no longer ours to report
      held.child.kill("SIGTERM");
      releasing.push(
        client.release(held.task, workerId).then(
          () => report(`↺ ${held.task.id} released`),
          (err) => report(`! ${held.task.id} could not be released: ${(err as Error).message}`),
        ),
      );
    }
    if (recording.length > 0) report(`waiting for ${recording.length} outcome(s) to be recorded`);
    await Promise.all([...recording, ...releasing]);
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { client, workerId, concurrency, leaseMs } = this.options;
    while (!this.#stopping) {
      const free = concurrency - this.#held.size;
      if (free <= 0) {
        await this.#idle.sleep(this.options.pollMs);
        continue;
      }
      let tasks: Task[] = [];
      const asked = Date.now();
      try {
        const claimed = await client.claim({ workerId, ...this.#claimOptions(Math.min(free, 10)) });
        tasks = claimed.tasks;
      } catch (err) {
        this.options.report(`! claim failed: ${(err as Error).message}`);
      }
      if (this.#stopping) {
        await this.#releaseAll(tasks);
        return;
      }
      for (const task of tasks) this.#execute(task, asked + leaseMs);
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

  #releaseAll(tasks: Task[]): Promise<unknown> {
    const { client, workerId } = this.options;
    return Promise.all(tasks.map((t) => client.release(t, workerId).catch(() => undefined)));
  }

  #execute(task: Task, leaseEndsAt: number): void {
    const { workerId, report } = this.options;
    const started = Date.now();
    const child = spawn("/bin/sh", ["-c", this.options.command], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, CLAUDEBENCH_TASK_ID: task.id, CLAUDEBENCH_WORKER_ID: workerId },
    });
    const held: Held = { task, child, lost: false, leaseEndsAt };
    this.#held.set(task.id, held);
    report(
      `▶ ${task.id} p${task.priority} attempt ${task.attempts}/${task.maxAttempts}: ${task.text.slice(0, 60)}`,
    );

    let stdout = "";
    let stdoutCut = false;
    let stderr = "";
    // decoded as a stream: a character split between two reads stays whole
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      if (stdout.length > STDOUT_KEPT_CHARS) {
        stdout = stdout.slice(-STDOUT_KEPT_CHARS);
        stdoutCut = true;
      }
    });
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      stderr = (stderr + d).slice(-TAIL);
    });
    child.stdin?.on("error", () => undefined); // a command that does not read its input
    child.stdin?.end(JSON.stringify(task));

    // only while the command runs: the lease it leaves behind bounds how long its outcome is retried
    const renewal = setInterval(() => this.#renew(held), Math.max(250, Math.floor(this.options.leaseMs / 3)));
    const done = () => {
      this.#held.delete(task.id);
      this.#idle.wake();
    };

    child.once("close", (code, signal) => {
      clearInterval(renewal);
      if (held.lost) {
        done();
        return;
      }
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const outcome: Outcome =
        code === 0
          ? { kind: "complete", result: resultFromOutput(stdout, stdoutCut) }
          : {
              kind: "fail",
              error: stderr.trim() || `command exited with ${signal ?? `code ${code}`}`,
              retryable: true,
              why: `exit ${signal ?? code}`,
            };
      held.reporting = this.#record(held, outcome, seconds).then(
        (next) => {
          done();
          if (next) return this.#takeOn(next.tasks, next.leaseEndsAt);
        },
        (err) => {
          done();
          report(`! ${task.id}: ${(err as Error).message}`);
        },
      );
    });
  }

  #renew(held: Held): void {
    const { client, workerId, leaseMs, report } = this.options;
    const asked = Date.now();
    client.renew(held.task, workerId, leaseMs).then(
      () => {
        held.leaseEndsAt = Math.max(held.leaseEndsAt, asked + leaseMs);
      },
      (err) => {
        // once the command has ended, the report decides what a refusal means: it may be our own
        // completion, recorded by an attempt whose answer was lost
        if (held.lost || held.reporting) return;
        if (err instanceof ClaudeBenchError && (err.code === "LEASE_LOST" || err.code === "NOT_FOUND")) {
          held.lost = true;
          report(`✗ ${held.task.id} lease lost (${err.message}); stopping its command`);
          held.child.kill("SIGTERM");
        }
      },
    );
  }

  /**
   * Tasks claimed with a completion: run them, or give them back when stopping (stop() waits
   * for that, through the completion's `reporting`).
   */
  async #takeOn(tasks: Task[], leaseEndsAt: number): Promise<void> {
    if (this.#stopping) {
      await this.#releaseAll(tasks);
      return;
    }
    for (const task of tasks) this.#execute(task, leaseEndsAt);
  }

  /**
   * Records a command's outcome. A transient failure (see ClaudeBenchError.transient), and
   * INTERNAL up to INTERNAL_ATTEMPTS times, is retried with backoff until the lease ends; after
   * it the task is the queue's again and runs elsewhere. A completion refused otherwise (the
   * result too large for the server, INTERNAL that repeats, ...) is recorded as a failure
   * instead; only LEASE_LOST and NOT_FOUND end it, the task being no longer ours. Answers the
   * tasks a completion claimed with it.
   */
  async #record(
    held: Held,
    outcome: Outcome,
    seconds: string,
  ): Promise<{ tasks: Task[]; leaseEndsAt: number } | undefined> {
    const { task } = held;
    const { report, leaseMs } = this.options;
    /** What earlier attempts, their answers lost, may have recorded. */
    const maybeRecorded = new Set<Outcome["kind"]>();
    for (let attempt = 0, internals = 0; ; attempt++) {
      const what = outcome.kind === "complete" ? "completion" : "failure";
      const asked = Date.now();
      try {
        const tasks = await this.#send(task, outcome);
        report(
          outcome.kind === "complete"
            ? `✓ ${task.id} completed in ${seconds}s`
            : `✗ ${task.id} failed in ${seconds}s (${outcome.why})`,
        );
        return { tasks, leaseEndsAt: asked + leaseMs };
      } catch (err) {
        if (!(err instanceof ClaudeBenchError)) throw err;
        const internal = err.code === "INTERNAL";
        if (err.transient || internal) maybeRecorded.add(outcome.kind);
        if (err.transient || (internal && ++internals < INTERNAL_ATTEMPTS)) {
          const left = held.leaseEndsAt - Date.now();
          if (left <= 0) {
            report(
              `! ${task.id}: its ${what} could not be recorded before its lease ended (${err.message}); the task will run again`,
            );
            return undefined;
          }
          if (attempt === 0) {
            report(
              `! ${task.id}: its ${what} is not recorded yet (${err.message}); retrying while its lease lasts (${Math.ceil(left / 1000)} s)`,
            );
          }
          const wait = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** attempt) * (0.5 + Math.random() / 2);
          await sleep(Math.min(wait, left));
          continue;
        }
        if (err.code === "LEASE_LOST" || err.code === "NOT_FOUND") {
          report(
            maybeRecorded.size > 0
              ? await this.#afterLostAnswer(task, maybeRecorded, seconds, err)
              : `! ${task.id}: ${err.message}`,
          );
          return undefined;
        }
        if (outcome.kind === "fail") {
          report(`! ${task.id}: ${err.message}`);
          return undefined;
        }
        report(`! ${task.id}: its completion was refused (${err.code}: ${err.message}); failing the task`);
        outcome = refusedCompletion(err);
        attempt = -1;
        internals = 0;
      }
    }
  }

  /** One attempt to record the outcome; answers the tasks a completion claimed with it. */
  async #send(task: Task, outcome: Outcome): Promise<Task[]> {
    const { client, workerId } = this.options;
    if (outcome.kind === "fail") {
      await client.fail(task, workerId, outcome.error, outcome.retryable);
      return [];
    }
    if (this.#stopping) {
      await client.complete(task, workerId, outcome.result);
      return [];
    }
    return (await client.completeAndClaim(task, workerId, outcome.result, this.#claimOptions(1))).tasks;
  }

  /**
   * The line to report when a repeated report is refused (LEASE_LOST, NOT_FOUND) after attempts
   * whose answers were lost (`maybe`: of which outcomes). A completed task still names its last
   * holder and claim time, so a completion recorded under this very lease is recognised; a
   * failure leaves no such trace.
   */
  async #afterLostAnswer(
    task: Task,
    maybe: ReadonlySet<Outcome["kind"]>,
    seconds: string,
    refusal: ClaudeBenchError,
  ) {
    const kinds = [...maybe].map((kind) => (kind === "complete" ? "completion" : "failure")).join(" or ");
    const unknown = `an earlier attempt whose answer was lost may have recorded its ${kinds}`;
    if (!maybe.has("complete")) return `! ${task.id}: ${refusal.message}; ${unknown}`;
    const now = await this.options.client.getTask(task.id).catch(() => null);
    if (
      now?.status === "completed" &&
      now.assignedTo === this.options.workerId &&
      now.claimedAt !== undefined &&
      now.claimedAt === task.claimedAt
    ) {
      return `✓ ${task.id} completed in ${seconds}s (recorded by an earlier attempt whose answer was lost)`;
    }
    const notRecorded = now && !maybe.has("fail");
    return `! ${task.id}: ${refusal.message}; ${notRecorded ? "the result was not recorded: the task runs again" : unknown}`;
  }
}

/**
 * The failure that stands for a completion the server refused. Not retryable when the server
 * judged the call (the result too large, ...): the command would print the same again, so the
 * task goes to the dead letters, where task.retry brings it back once that is fixed. Retryable
 * after INTERNAL: its cause is unknown and may pass, and maxAttempts bounds the reruns.
 */
function refusedCompletion(refusal: ClaudeBenchError): Outcome {
  return {
    kind: "fail",
    error: `its completion was refused: ${refusal.code}: ${refusal.message}`.slice(0, TAIL),
    retryable: refusal.code === "INTERNAL",
    why: "completion refused",
  };
}
