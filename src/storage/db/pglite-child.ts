import { existsSync, readFileSync } from "node:fs";
import { setPriority } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { lockDataDir } from "../data-dir-lock.js";
import { PASSWORD_FILE } from "../private-dir.js";
import { INITIALISED_EXIT_CODE, type StoreConnection, storeConnection } from "./embedded-pglite.js";
import { serveWire, type WireServer } from "./pglite-wire.js";

/**
 * The embedded history store's own process, as its entry module runs it (embedded-pglite.ts
 * starts and owns it): PGlite on `<dir>/pgdata`, behind the PostgreSQL wire protocol on
 * 127.0.0.1:<port> (pglite-wire.ts), then whatever work the entry gives it (the history's
 * outbox consumers: domain/history/store-process.ts), through the same wire protocol.
 * `node <entry> <dir> <port>`; the password is read from `<dir>/password`, the work's config
 * from the first line of stdin. Prints `ready <port>` once it serves.
 *
 * It ends when its stdin closes — the server is gone, however it ended (kill -9 included) — or
 * on SIGTERM, closing PGlite first. It holds `<dir>/serve.lock` while PGlite is open, so that a
 * server started again at once cannot open the same files before this one has closed them.
 */

/**
 * What the process does once it serves, given the connection to its own wire server and the
 * config its parent sent; resolves with what stops it, run before PGlite is closed.
 */
type StoreWork<C> = (connection: StoreConnection, config: C) => Promise<() => Promise<void>>;

/**
 * PostgreSQL's memory, smaller than PGlite's defaults (128 MB of shared buffers, sized for 100
 * connections): the history is written in batches and read a row at a time, by one connection.
 * docs/performance.md ("A light default") has the figures.
 */
const SETTINGS = {
  shared_buffers: "8MB",
  wal_buffers: "512kB",
  temp_buffers: "1MB",
  max_connections: "4",
};

/**
 * Writing the history is background work: under a burst of requests the server and Redis come
 * first, and the store catches up after (the streams hold what it has not written yet).
 */
const NICE = 10;

export async function runPgliteChild<C>(work?: StoreWork<C>): Promise<void> {
  const [dir, portArg] = process.argv.slice(2);
  if (!dir || !portArg) {
    process.stderr.write("usage: <store entry> <dir> <port>\n");
    process.exit(2);
  }
  setPriority(NICE);
  const port = Number(portArg);
  const pgdata = join(dir, "pgdata");
  const password = readFileSync(join(dir, PASSWORD_FILE), "utf8").trim();
  const lock = lockDataDir(dir);
  const firstStart = !existsSync(join(pgdata, "PG_VERSION"));
  const db = new PGlite(pgdata, {
    startParams: [
      ...PGlite.defaultStartParams,
      ...Object.entries(SETTINGS).flatMap(([k, v]) => ["-c", `${k}=${v}`]),
    ],
  });
  let wire: WireServer | null = null;
  let stopWork: (() => Promise<void>) | null = null;
  let closing = false;

  function shutdown(code: number): void {
    if (closing) return;
    closing = true;
    void (async () => {
      try {
        await stopWork?.();
        await wire?.close();
        await db.close();
      } catch (err) {
        process.stderr.write(`closing the history store failed: ${(err as Error).message}\n`);
        code = code || 1;
      } finally {
        lock.release();
        process.exit(code);
      }
    })();
  }

  /** The first line of stdin; after it, stdin only tells us when the server is gone. */
  const config = new Promise<C>((resolve) => {
    let buffered = "";
    process.stdin.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const end = buffered.indexOf("\n");
      if (end >= 0) resolve(JSON.parse(buffered.slice(0, end)) as C);
    });
  });
  process.stdin.on("end", () => shutdown(0));
  process.stdin.on("error", () => shutdown(0));
  process.on("SIGTERM", () => shutdown(0));
  process.on("SIGINT", () => shutdown(0));
  process.stdout.on("error", () => undefined);

  try {
    await db.waitReady;
    // initdb leaves this process holding several hundred MB (a second PGlite and initdb's own
    // WASM) that it would keep: end, and the server starts a fresh one on the new cluster.
    if (firstStart) shutdown(INITIALISED_EXIT_CODE);
    else {
      wire = await serveWire(db, port, password);
      process.stdout.write(`ready ${wire.port}\n`);
      if (work) stopWork = await work(storeConnection(port, password), await config);
    }
  } catch (err) {
    process.stderr.write(`the history store did not start: ${(err as Error).stack ?? err}\n`);
    shutdown(1);
  }
}
