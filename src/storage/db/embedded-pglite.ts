import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Backoff } from "../../core/backoff.js";
import type { Logger } from "../../core/logger.js";
import { freePort } from "../embedded-redis.js";
import { ensurePassword, PASSWORD_FILE, privateDir } from "../private-dir.js";

/**
 * The embedded history store: PGlite in a child process that the server starts and owns, as
 * it does its private redis-server, reached over the PostgreSQL wire protocol on a loopback port
 * (pglite-child.ts). So the server's event loop never runs PostgreSQL (WASM) and its memory
 * stays its own, and the server uses the same `pg` pool and SQL as with a production PostgreSQL.
 *
 * The child may do more work than serving, named by its caller (StoreChild): the history's
 * outbox consumers (domain/history/store-process.ts) write to its PGlite through the same pool
 * and SQL, so that persisting costs the server's event loop nothing. What that work needs (the
 * private Redis' URL with its password) the child reads from its stdin, never from its command
 * line. Nothing waits for it: the server serves at once, the streams keep the history until the
 * store has written it. A `kill -9` of the server closes the child's stdin, and the child closes
 * PGlite and exits. A child that dies is started again (after 1 s, doubling up to 30 s), on the
 * same port; its own lock in the store's directory keeps a new child off the files until the old
 * one has let go of them.
 *
 * `<dir>` (0700) holds `pgdata/` (PostgreSQL's files), `password` (0600) and `port`.
 */

export interface StoreConnection {
  host: string;
  port: number;
  user: string;
  database: string;
  password: string;
}

type StoreState = "starting" | "up" | "down" | "stopped";

export interface EmbeddedPglite {
  readonly dir: string;
  readonly port: number;
  readonly passwordFile: string;
  /** What `pg` connects with; it carries the password: never print or log it. */
  readonly connection: StoreConnection;
  /** "starting" until the child first serves, "down" while it is being started again. */
  state(): StoreState;
  /** The child's pid, while it runs. */
  pid(): number | null;
  stop(): Promise<void>;
}

/** How the child and the server reach the child's wire server; the same on both sides. */
export const storeConnection = (port: number, password: string): StoreConnection => ({
  host: "127.0.0.1",
  port,
  user: "postgres",
  database: "postgres",
  password,
});

/** The child's exit after creating the cluster on a first start: start it again at once. */
export const INITIALISED_EXIT_CODE = 75;
const PORT_FILE = "port";
const PGDATA = "pgdata";

const RESTART_MIN_MS = 1000;
const RESTART_MAX_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/**
 * A child entry module beside the module at `base` (its import.meta.url): from dist (.js) or,
 * under tsx, from src (.ts).
 */
export const entryBeside = (base: string, name: string): URL =>
  new URL(`./${name}.${base.endsWith(".ts") ? "ts" : "js"}`, base);

/** What the child runs: its entry module (it calls runPgliteChild) and that entry's config. */
export interface StoreChild {
  readonly entry: URL;
  /** The first line of the child's stdin (JSON): never its command line, as it may carry secrets. */
  readonly config: unknown;
}

/** The child that only serves the database. */
const SERVE_ONLY: StoreChild = { entry: entryBeside(import.meta.url, "pglite-process"), config: null };

/**
 * PGlite's WASM compiled by V8's baseline compiler only: the optimising tier cost ~50 MB more
 * resident memory and seconds of CPU at start for no measurable gain in this work
 * (docs/performance.md, "A light default").
 */
const CHILD_NODE_FLAGS = ["--liftoff-only"];
const childArgs = (entry: URL) => [
  // tsx by its path: the server (a test) may run in a directory without node_modules
  ...(entry.pathname.endsWith(".ts") ? ["--import", import.meta.resolve("tsx")] : []),
  fileURLToPath(entry),
];

/**
 * PGlite's files used to be the directory itself (when it ran in the server's process): move
 * them into `pgdata/`, so that the password and port can sit beside them. A move cut short is
 * finished on the next start.
 */
function moveOldLayout(dir: string): void {
  const moving = `${dir}.moving`;
  if (existsSync(join(dir, "PG_VERSION"))) renameSync(dir, moving);
  if (!existsSync(moving)) return;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  renameSync(moving, join(dir, PGDATA));
}

interface EmbeddedPgliteOptions {
  dir: string;
  log: Logger;
  /** What the child runs; by default it only serves the database. */
  child?: StoreChild;
}

export async function startEmbeddedPglite(options: EmbeddedPgliteOptions): Promise<EmbeddedPglite> {
  const { dir, log, child: { entry, config } = SERVE_ONLY } = options;
  const args = [...CHILD_NODE_FLAGS, ...childArgs(entry), dir];
  moveOldLayout(dir);
  privateDir(dir);
  const password = ensurePassword(dir);
  const port = await freePort();
  writeFileSync(join(dir, PORT_FILE), `${port}\n`);

  let state: StoreState = "starting";
  let child: ChildProcess | null = null;
  let restartTimer: NodeJS.Timeout | null = null;
  const backoff = new Backoff(RESTART_MIN_MS, RESTART_MAX_MS);
  let exited: Promise<void> = Promise.resolve();

  const launch = () => {
    restartTimer = null;
    const started = Date.now();
    const proc = spawn(process.execPath, [...args, String(port)], {
      // Own process group: a Ctrl-C in the terminal reaches the server, which stops the store in order.
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
    });
    child = proc;
    proc.stdin?.write(`${JSON.stringify(config)}\n`);
    let stderr = "";
    proc.stderr?.on("data", (chunk: Buffer) => {
      // Its log lines (pino JSON, as ours) join the server's.
      process.stderr.write(chunk);
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    proc.stdout?.on("data", (chunk: Buffer) => {
      if (state === "stopped" || !chunk.toString().startsWith("ready")) return;
      log.info({ pid: proc.pid, port, ms: Date.now() - started }, "history store (PGlite) ready");
      state = "up";
      backoff.reset();
    });
    // An EPIPE on its stdin while it is ending must not reach the server as an unhandled error.
    proc.stdin?.on("error", () => undefined);
    exited = new Promise((resolve) =>
      proc.once("exit", (code, signal) => {
        child = null;
        resolve();
        if (state === "stopped") return;
        if (code === INITIALISED_EXIT_CODE) {
          log.info({ ms: Date.now() - started }, "history store (PGlite) created in the data directory");
          launch();
          return;
        }
        state = "down";
        const restartInMs = backoff.next();
        log.error(
          { code, signal, stderr: stderr.trim().split("\n").slice(-3).join(" | "), restartInMs },
          "the history store (PGlite) stopped; starting it again (history catches up from the event stream)",
        );
        restartTimer = setTimeout(launch, restartInMs);
      }),
    );
  };
  launch();

  let stopping: Promise<void> | undefined;
  return {
    dir,
    port,
    passwordFile: join(dir, PASSWORD_FILE),
    connection: storeConnection(port, password),
    state: () => state,
    pid: () => child?.pid ?? null,
    stop: () => {
      stopping ??= (async () => {
        state = "stopped";
        if (restartTimer) clearTimeout(restartTimer);
        const running = child;
        if (!running) return;
        running.stdin?.end();
        const timer = setTimeout(() => {
          if (running.pid !== undefined) process.kill(-running.pid, "SIGKILL");
        }, STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}
