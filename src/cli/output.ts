import { InvalidArgumentError } from "commander";
import { ClaudeBenchError } from "../client/http-client.js";
import { ConfigError } from "../client-config.js";

/**
 * `--url`, repeatable, for the commands that call the server through `ClaudeBenchClient`: the
 * servers of one cluster, tried in turn (src/client-config.ts `loadClientConfig` reads them).
 */
export const URL_OPTION = [
  "--url <url>",
  "server URL; repeat it (or give a comma list) for several servers of one cluster, used in turn when one cannot be reached (env CLAUDEBENCH_URL, default http://127.0.0.1:3000)",
  (value: string, previous: string[] = []) => [...previous, value],
] as const;

/** An option's whole number from `min` to `max`; commander reports a bad one with the option and value. */
export const wholeNumber = (min: number, max: number) => (value: string) => {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max)
    throw new InvalidArgumentError(`Use a whole number from ${min} to ${max}.`);
  return n;
};

/** Prints rows as aligned columns (the first row is the header). */
export function printTable(rows: string[][]): void {
  const widths = rows[0]?.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? "").length))) ?? [];
  for (const row of rows) {
    console.log(
      row
        .map((cell, col) => (col === row.length - 1 ? cell : cell.padEnd(widths[col] ?? 0)))
        .join("  ")
        .trimEnd(),
    );
  }
}

/** What to do about a server's answer, by its code, after the server's own message. */
const NEXT_STEP: Partial<Record<ClaudeBenchError["code"], string>> = {
  NETWORK: "start it with `claudebench serve` or pass --url (env CLAUDEBENCH_URL)",
  UNAUTHORIZED: "pass the server's token with --token (env CLAUDEBENCH_TOKEN)",
  NOT_FOUND: "`claudebench task list` shows the tasks",
  VALIDATION: "--help shows what each option takes",
  QUEUE_FULL: "wait for workers to take tasks, or raise the server's QUEUE_MAX",
  RATE_LIMITED: "try again in a moment",
  CIRCUIT_OPEN: "try again in a moment",
  TIMEOUT: "try again in a moment",
  UNAVAILABLE: "try again in a moment; the server's log says what it is missing",
  INTERNAL: "the server's log says why",
};

/** Node's own errors (a file that cannot be written, ...): a code and a syscall, and a message that names the file. */
const isSystemError = (err: unknown): err is NodeJS.ErrnoException =>
  err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === "string";

/**
 * Runs a CLI action; a known error becomes one line on stderr with what to do, and exit code
 * 1 (2 for bad config). Anything else is a bug and keeps its stack trace.
 */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      if (err instanceof ConfigError) {
        console.error(`claudebench: invalid configuration: ${err.problems.join("; ")}`);
        process.exit(2);
      }
      if (err instanceof ClaudeBenchError) {
        const next = NEXT_STEP[err.code];
        console.error(`claudebench: ${err.code}: ${err.message}${next ? ` — ${next}` : ""}`);
        process.exit(1);
      }
      if (isSystemError(err)) {
        console.error(`claudebench: ${err.message}`);
        process.exit(1);
      }
      throw err;
    }
  };
}
