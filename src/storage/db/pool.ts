import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import pg from "pg";

/**
 * One `pg` pool to PostgreSQL or the embedded store (the same driver for both), with what it
 * takes to survive a database that goes away: its errors never crash the server, and a client
 * that failed is never returned to the pool.
 */
export interface DriverPool {
  /** drizzle over the pool: one statement at a time, each on whichever client is free. */
  readonly db: NodePgDatabase;
  /**
   * Runs `work` on a client of its own (a transaction's statements must share one), released
   * in any case and dropped from the pool when the work failed.
   */
  withClient<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T>;
  end(): Promise<void>;
}

export function openPool(config: pg.PoolConfig): DriverPool {
  const pool = new pg.Pool({ ...config, connectionTimeoutMillis: 5000 });
  // An idle client's error (the database restarted) must not crash the server; the next query reports it.
  pool.on("error", () => undefined);
  // Nor may a checked-out one's: a transaction holds its client outside the pool's idle listener,
  // and a connection lost mid-transaction (PostgreSQL stopped) emits 'error' on that client. The
  // transaction's query fails anyway, the persister retries, the pool drops the broken client.
  pool.on("connect", (client) => client.on("error", () => undefined));
  return {
    db: drizzle(pool),
    // drizzle's transaction on a Pool never releases its client when BEGIN fails (the connection
    // was just lost): each outage could leak one until the pool is exhausted (persistence stops for
    // good) and pool.end() at shutdown hangs. So a transaction runs on a client checked out here,
    // released in any case, and dropped from the pool when it failed (as pool.query does).
    withClient: async (work) => {
      const client = await pool.connect();
      let failure: Error | undefined;
      try {
        return await work(client);
      } catch (err) {
        failure = err as Error;
        throw err;
      } finally {
        client.release(failure);
      }
    },
    end: () => pool.end(),
  };
}
