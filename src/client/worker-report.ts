import { formatDuration } from "./duration.js";
import type { FailAnswer } from "./http-client.js";

/** What the terminal shows of a worker's tasks: a failure's stderr and fate, and a summary at exit. */

/** Lines of stderr shown under a failure (its last ones), each at most this many characters. */
export const STDERR_SHOWN_LINES = 5;
export const STDERR_LINE_CHARS = 200;

/** The last non-blank lines of `stderr`, each cut to one terminal line. */
export function stderrTail(stderr: string): string[] {
  return stderr
    .split(/\r?\n/)
    .filter((line) => line.trim() !== "")
    .slice(-STDERR_SHOWN_LINES)
    .map((line) => (line.length > STDERR_LINE_CHARS ? `${line.slice(0, STDERR_LINE_CHARS - 1)}…` : line));
}

/**
 * What became of a failed task, as the server answered task.fail: "retry in 2.5s" or
 * "dead-lettered". The wait is the server's retryAt less the task's updatedAt, both of the
 * server's clock, so the worker's own clock does not skew it.
 */
export function failureFate(answer: FailAnswer): string {
  if (answer.retrying && answer.retryAt)
    return `retry in ${formatDuration(Date.parse(answer.retryAt) - Date.parse(answer.task.updatedAt))}`;
  return answer.deadLettered ? "dead-lettered" : answer.task.status;
}

/** The counts behind the exit summary. */
export class WorkerTally {
  /** Completions recorded. */
  done = 0;
  /** Failures recorded, by what the server did with the task. */
  retrying = 0;
  deadLettered = 0;
  /** Tasks given back on stopping (attempt not counted). */
  released = 0;
  /** Tasks whose lease was lost, or whose outcome could not be recorded: they run again elsewhere. */
  lost = 0;

  constructor(private readonly startedAt: number = Date.now()) {}

  summary(now: number = Date.now()): string {
    const failed = this.retrying + this.deadLettered;
    const parts = [
      `done ${this.done}`,
      `failed ${failed}${failed > 0 ? ` (${this.retrying} to retry, ${this.deadLettered} dead-lettered)` : ""}`,
    ];
    if (this.released > 0) parts.push(`released ${this.released}`);
    if (this.lost > 0) parts.push(`lost ${this.lost}`);
    return `summary: ${parts.join(", ")}; ran ${formatDuration(now - this.startedAt)}`;
  }
}
