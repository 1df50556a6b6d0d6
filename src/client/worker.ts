import { type ChildProcess, spawn } from "node:child_process";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import type { Task } from "../contract/tasks.js";
import { Backoff } from "../core/backoff.js";
import { WakeableSleep } from "../core/timers.js";
import { formatDuration } from "./duration.js";
import { type ClaudeBenchClient, ClaudeBenchError, type FailAnswer } from "./http-client.js";
import { InstancePresence } from "./instance-presence.js";
import { ServerContact } from "./server-contact.js";
import { resultFromOutput, STDOUT_KEPT_CHARS } from "./task-result.js";
import { failureFate, stderrTail, WorkerTally } from "./worker-report.js";

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
 * The worker is an instance of the cluster (instance-presence.ts): registered under its worker
 * id, which is the holder (`assignedTo`) of every task it claims, with maxTasks = concurrency;
 * it heartbeats while it runs, so its tasks go to others at once if it dies (the leader
 * declares it failed) rather than when their leases end, and it unregisters when it stops.
 * While no server answers, claims (and the first registration) are tried again with back-off,
 * 1 s doubling up to 30 s; the terminal gets one line when the server goes, one when it is back.
 *
 * `stop()` stops claiming, ends the running commands and releases their tasks so others take
 * them at once; outcomes still being reported are waited for. With `drain` the worker stops by
 * itself once nothing is left for it (see #drained).
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
  /** Stop once nothing is left for this worker (see #drained). */
  drain?: boolean;
  /** One line per event, for the terminal (a failure adds the end of stderr on lines below). */
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
  | { kind: "fail"; error: string; retryable: boolean; why: string; stderr?: string };

const TAIL = 2000;
/** Waits between attempts to record an outcome: doubling from the base up to the cap, with jitter. */
const RETRY_BASE_MS = 250;
const RETRY_MAX_MS = 5000;
/** Waits between claims (and first registrations) while no server answers. */
const UNAVAILABLE_BASE_MS = 1000;
const UNAVAILABLE_MAX_MS = 30_000;
/** Characters of the command shown in the instance's metadata. */
const COMMAND_SHOWN_CHARS = 1000;
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
  readonly #tally = new WorkerTally();
  /** The server's availability, told once per change. */
  readonly #contact: ServerContact;
  readonly #unavailable = new Backoff(UNAVAILABLE_BASE_MS, UNAVAILABLE_MAX_MS);
  readonly #presence: InstancePresence;
  /** "queue empty" was said, and no task has started since. */
  #saidEmpty = false;
  /** With `drain`: tasks this worker failed that may wait for their retry. */
  readonly #retrying = new Set<string>();

  constructor(private readonly options: ShellWorkerOptions) {
    const { client, workerId, command, concurrency, channel, capabilities, report } = options;
    this.#contact = new ServerContact(
      report,
      `trying again with back-off, ${UNAVAILABLE_BASE_MS / 1000} s doubling up to ${UNAVAILABLE_MAX_MS / 1000} s`,
    );
    this.#presence = new InstancePresence({
      client,
      id: workerId,
      registration: {
        roles: ["worker"],
        capabilities: capabilities ?? [],
        maxTasks: concurrency,
        metadata: {
          kind: "worker",
          command: command.slice(0, COMMAND_SHOWN_CHARS),
          host: hostname(),
          pid: process.pid,
          concurrency,
          ...(channel ? { channel } : {}),
        },
      },
      contact: this.#contact,
      report,
      liveness: () => ({
        status: this.#held.size > 0 ? `running ${this.#held.size} of ${concurrency}` : "idle",
        load: {
          running: this.#held.size,
          done: this.#tally.done,
          failed: this.#tally.retrying + this.#tally.deadLettered,
        },
      }),
    });
  }

  /** Registers, then claims and runs tasks until stop() (or, with `drain`, until nothing is left); unregisters at the end. */
  start(): Promise<void> {
    this.#loop ??= this.#run();
    return this.#loop;
  }

  /** Stops claiming, ends running commands and releases their tasks; waits for outcomes being recorded. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#idle.wake();
    await this.#loop;
  }

  /** What the worker did: done, failed, released, lost, and for how long. */
  summary(): string {
    return this.#tally.summary();
  }

  async #run(): Promise<void> {
    if (!(await this.#register())) return;
    this.#presence.start();
    try {
      await this.#claimLoop();
      await this.#letGo();
    } finally {
      await this.#presence.stop();
    }
  }

  /**
   * Registers as an instance, trying again with back-off while no server answers (a worker
   * may start before its server). False when stopped first; a refusal (a bad token, an id the
   * server does not take) throws: trying again would not change it.
   */
  async #register(): Promise<boolean> {
    const { workerId, concurrency, report } = this.options;
    while (!this.#stopping) {
      try {
        await this.#presence.register();
        this.#answered();
        report(`registered as instance ${workerId} (role worker, maxTasks ${concurrency})`);
        return true;
      } catch (err) {
        if (!(err instanceof ClaudeBenchError && (err.transient || err.code === "INTERNAL"))) throw err;
        await this.#unanswered(err);
      }
    }
    return false;
  }

  async #claimLoop(): Promise<void> {
    const { client, workerId, concurrency, leaseMs, pollMs, report } = this.options;
    while (!this.#stopping) {
      const free = concurrency - this.#held.size;
      if (free <= 0) {
        await this.#idle.sleep(pollMs);
        continue;
      }
      let tasks: Task[];
      const asked = Date.now();
      try {
        tasks = (await client.claim({ workerId, ...this.#claimOptions(Math.min(free, 10)) })).tasks;
        this.#answered();
      } catch (err) {
        await this.#unanswered(err);
        continue;
      }
      if (this.#stopping) {
        await this.#releaseAll(tasks);
        return;
      }
      for (const task of tasks) this.#execute(task, asked + leaseMs);
      if (tasks.length > 0) continue;
      if (!this.#saidEmpty) {
        this.#saidEmpty = true;
        const running = this.#held.size;
        report(`queue empty; waiting${running > 0 ? ` (${running} running)` : ""}`);
      }
      if (this.options.drain && (await this.#drained())) {
        report("drained: no task left for this worker");
        return;
      }
      await this.#idle.sleep(pollMs);
    }
  }

  #answered(): void {
    this.#contact.succeeded();
    this.#unavailable.reset();
  }

  /** A call of the loop failed: said once per outage, then a wait that grows (cut short by stop()). */
  async #unanswered(err: unknown): Promise<void> {
    this.#contact.failed(err);
    await this.#idle.sleep(this.#unavailable.next());
  }

  /**
   * `--drain`, after a claim found nothing: whether nothing is left for this worker. True when
   * no task is in flight here (no command running, no outcome being recorded) and none of the
   * tasks this worker failed with a retry is still pending (waiting for its retry time, or
   * claimable by the time it is read: the next claim takes it). Other tasks that are not
   * claimable yet (created with a delay, or held by other workers) are not waited for.
   */
  async #drained(): Promise<boolean> {
    if (this.#held.size > 0) return false;
    for (const id of [...this.#retrying]) {
      try {
        if ((await this.options.client.getTask(id)).status === "pending") return false;
      } catch (err) {
        if (!(err instanceof ClaudeBenchError && err.code === "NOT_FOUND")) return false;
      }
      this.#retrying.delete(id);
    }
    return true;
  }

  /**
   * Ends the running commands and releases their tasks so that others take them at once (the
   * attempt given back), and waits for the outcomes being recorded.
   */
  async #letGo(): Promise<void> {
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
          () => {
            this.#tally.released++;
            report(`↺ ${held.task.id} released`);
          },
          (err) => report(`! ${held.task.id} could not be released: ${(err as Error).message}`),
        ),
      );
    }
    if (recording.length > 0) report(`waiting for ${recording.length} outcome(s) to be recorded`);
    await Promise.all([...recording, ...releasing]);
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
    return Promise.all(
      tasks.map((t) =>
        client.release(t, workerId).then(
          () => this.#tally.released++,
          () => undefined,
        ),
      ),
    );
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
    this.#saidEmpty = false;
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
      const took = formatDuration(Date.now() - started);
      const outcome: Outcome =
        code === 0
          ? { kind: "complete", result: resultFromOutput(stdout, stdoutCut) }
          : {
              kind: "fail",
              error: stderr.trim() || `command exited with ${signal ?? `code ${code}`}`,
              retryable: true,
              why: `exit ${signal ?? code}`,
              stderr,
            };
      held.reporting = this.#record(held, outcome, took).then(
        (next) => {
          done();
          if (next) return this.#takeOn(next.tasks, next.leaseEndsAt);
        },
        (err) => {
          done();
          this.#tally.lost++;
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
          this.#tally.lost++;
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
    took: string,
  ): Promise<{ tasks: Task[]; leaseEndsAt: number } | undefined> {
    const { task } = held;
    const { report, leaseMs } = this.options;
    /** What earlier attempts, their answers lost, may have recorded. */
    const maybeRecorded = new Set<Outcome["kind"]>();
    const retry = new Backoff(RETRY_BASE_MS, RETRY_MAX_MS, Math.random);
    for (let attempt = 0, internals = 0; ; attempt++) {
      const what = outcome.kind === "complete" ? "completion" : "failure";
      const asked = Date.now();
      try {
        if (outcome.kind === "fail") {
          this.#failed(task, outcome, took, await this.#sendFailure(task, outcome));
          return { tasks: [], leaseEndsAt: asked + leaseMs };
        }
        const tasks = await this.#sendCompletion(task, outcome.result);
        this.#tally.done++;
        report(`✓ ${task.id} completed in ${took}`);
        return { tasks, leaseEndsAt: asked + leaseMs };
      } catch (err) {
        if (!(err instanceof ClaudeBenchError)) throw err;
        const internal = err.code === "INTERNAL";
        if (err.transient || internal) maybeRecorded.add(outcome.kind);
        if (err.transient || (internal && ++internals < INTERNAL_ATTEMPTS)) {
          const left = held.leaseEndsAt - Date.now();
          if (left <= 0) {
            this.#tally.lost++;
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
          await sleep(Math.min(retry.next(), left));
          continue;
        }
        if (err.code === "LEASE_LOST" || err.code === "NOT_FOUND") {
          const { line, completed } =
            maybeRecorded.size > 0
              ? await this.#afterLostAnswer(task, maybeRecorded, took, err)
              : { line: `! ${task.id}: ${err.message}`, completed: false };
          if (completed) this.#tally.done++;
          else this.#tally.lost++;
          report(line);
          return undefined;
        }
        if (outcome.kind === "fail") {
          this.#tally.lost++;
          report(`! ${task.id}: ${err.message}`);
          return undefined;
        }
        report(`! ${task.id}: its completion was refused (${err.code}: ${err.message}); failing the task`);
        outcome = refusedCompletion(err);
        attempt = -1;
        internals = 0;
        retry.reset();
      }
    }
  }

  /** A completion; answers the tasks claimed with it (none when stopping). */
  async #sendCompletion(task: Task, result: unknown): Promise<Task[]> {
    const { client, workerId } = this.options;
    if (this.#stopping) {
      await client.complete(task, workerId, result);
      return [];
    }
    return (await client.completeAndClaim(task, workerId, result, this.#claimOptions(1))).tasks;
  }

  #sendFailure(task: Task, failure: Extract<Outcome, { kind: "fail" }>): Promise<FailAnswer> {
    return this.options.client.fail(task, this.options.workerId, failure.error, failure.retryable);
  }

  /** A recorded failure, for the terminal: why, what the server does with the task, and the end of stderr. */
  #failed(task: Task, failure: Extract<Outcome, { kind: "fail" }>, took: string, answer: FailAnswer): void {
    if (answer.retrying) this.#tally.retrying++;
    else this.#tally.deadLettered++;
    if (this.options.drain && answer.retrying) this.#retrying.add(task.id);
    const stderr = stderrTail(failure.stderr ?? "").map((line) => `\n    | ${line}`);
    this.options.report(
      `✗ ${task.id} failed in ${took} (${failure.why}); ${failureFate(answer)}${stderr.join("")}`,
    );
  }

  /**
   * What to report when a repeated report is refused (LEASE_LOST, NOT_FOUND) after attempts
   * whose answers were lost (`maybe`: of which outcomes), and whether the completion turned out
   * recorded. A completed task still names its last holder and claim time, so a completion
   * recorded under this very lease is recognised; a failure leaves no such trace.
   */
  async #afterLostAnswer(
    task: Task,
    maybe: ReadonlySet<Outcome["kind"]>,
    took: string,
    refusal: ClaudeBenchError,
  ): Promise<{ line: string; completed: boolean }> {
    const kinds = [...maybe].map((kind) => (kind === "complete" ? "completion" : "failure")).join(" or ");
    const unknown = `an earlier attempt whose answer was lost may have recorded its ${kinds}`;
    if (!maybe.has("complete"))
      return { line: `! ${task.id}: ${refusal.message}; ${unknown}`, completed: false };
    const now = await this.options.client.getTask(task.id).catch(() => null);
    if (
      now?.status === "completed" &&
      now.assignedTo === this.options.workerId &&
      now.claimedAt !== undefined &&
      now.claimedAt === task.claimedAt
    ) {
      return {
        line: `✓ ${task.id} completed in ${took} (recorded by an earlier attempt whose answer was lost)`,
        completed: true,
      };
    }
    const notRecorded = now && !maybe.has("fail");
    return {
      line: `! ${task.id}: ${refusal.message}; ${notRecorded ? "the result was not recorded: the task runs again" : unknown}`,
      completed: false,
    };
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
