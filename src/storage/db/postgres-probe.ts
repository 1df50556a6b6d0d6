import pg from "pg";
import type { DatabaseProbe } from "../../core/context.js";

/** A small pool used to tell whether PostgreSQL answers (persistence builds on it later). */
export function createPostgresProbe(url: string): DatabaseProbe & { close(): Promise<void> } {
  const pool = new pg.Pool({
    connectionString: url,
    max: 2,
    connectionTimeoutMillis: 2000,
    idleTimeoutMillis: 10_000,
  });
  // An idle client's error (database restarted) must not crash the server: the next ping reports it.
  pool.on("error", () => undefined);
  return {
    kind: "postgres",
    ping: async () => {
      const started = performance.now();
      await pool.query("SELECT 1");
      return performance.now() - started;
    },
    close: () => pool.end(),
  };
}
