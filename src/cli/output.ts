import { ClaudeBenchError } from "../client/http-client.js";
import { ConfigError } from "../config.js";

/**
 * `--url`, repeatable, for the commands that call the server through `ClaudeBenchClient`: the
 * servers of one cluster, tried in turn (src/config.ts `loadClientConfig` reads them).
 */
export const URL_OPTION = [
  "--url <url>",
  "server URL; repeat it (or give a comma list) for several servers of one cluster, used in turn when one cannot be reached (env CLAUDEBENCH_URL, default http://127.0.0.1:3000)",
  (value: string, previous: string[] = []) => [...previous, value],
] as const;

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

/** Runs a CLI action; a known error becomes one line on stderr with what to do, and exit code 1 (2 for bad config). */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      if (err instanceof ConfigError) {
        console.error(`claudebench: ${err.message}`);
        process.exit(2);
      }
      if (err instanceof ClaudeBenchError) {
        console.error(`claudebench: ${err.code}: ${err.message}`);
        process.exit(1);
      }
      throw err;
    }
  };
}
