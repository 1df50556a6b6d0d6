import { execFile, execFileSync } from "node:child_process";
import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import pg from "pg";
import { freePort } from "./cli.js";

/**
 * A private PostgreSQL server for one test file: its own cluster (initdb) in a temporary
 * directory, on a free port, with its unix socket in that directory too. It never touches a
 * PostgreSQL already running on the machine. PostgreSQL refuses to run as root: as root the
 * cluster belongs to the `postgres` system user and every pg_ctl runs as that user (runuser).
 */

export interface TestPostgres {
  /** postgres://postgres@127.0.0.1:<port>/claudebench */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** A fresh, empty database on this server; resolves with its URL. */
  createDatabase(name: string): Promise<string>;
  /** `pg_ctl stop -m fast`: the server goes away, the cluster stays. */
  stop(): Promise<void>;
  /** Starts the same cluster again, on the same port. */
  start(): Promise<void>;
  /** SIGKILL to the postmaster and its backends (a crash); resolves once they are gone. */
  kill(): Promise<void>;
  /** Stops the server (immediate) and removes the cluster. */
  destroy(): Promise<void>;
}

/** The directory holding initdb and pg_ctl, or null. PATH first, then Debian's /usr/lib/postgresql/<ver>/bin. */
export function findPostgresBin(): string | null {
  const candidates = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  const debian = "/usr/lib/postgresql";
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => join(debian, v, "bin")));
  }
  for (const dir of candidates) {
    const initdb = join(dir, "initdb");
    if (existsSync(initdb) && existsSync(join(dir, "pg_ctl"))) {
      // a symlink on PATH (e.g. /usr/local/bin/initdb): use the real directory, where `postgres` is too
      return dirname(realpathSync(initdb));
    }
  }
  return null;
}

const BIN = findPostgresBin();
const AS_ROOT = typeof process.getuid === "function" && process.getuid() === 0;

function postgresUser(): { uid: number; gid: number } | null {
  try {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : null;
  } catch {
    return null;
  }
}

const PG_USER = AS_ROOT ? postgresUser() : null;
const RUNUSER = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"].find((p) => existsSync(p)) ?? null;

/**
 * Why the PostgreSQL tests cannot run here, or false when they can. Pass it as `skip` to a
 * describe/it: node:test reports the test as skipped with this reason.
 */
export const POSTGRES_SKIP: string | false = !BIN
  ? "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin; install them: apt-get install -y postgresql (.ci/run and scripts/bootstrap.sh do this)"
  : AS_ROOT && !PG_USER
    ? "running as root and there is no `postgres` system user to run PostgreSQL as (PostgreSQL refuses to run as root)"
    : false;

/** Runs a PostgreSQL program (asynchronously: the event loop keeps running): as the `postgres` user when we are root. */
function runPg(program: string, args: string[], cwd: string): Promise<void> {
  const path = join(BIN as string, program);
  let command = path;
  let argv = args;
  if (AS_ROOT) {
    if (RUNUSER) {
      command = RUNUSER;
      argv = ["-u", "postgres", "--", path, ...args];
    } else {
      command = "su";
      argv = ["postgres", "-s", "/bin/sh", "-c", [path, ...args].map(shellQuote).join(" ")];
    }
  }
  return new Promise((resolve, reject) => {
    execFile(
      command,
      argv,
      {
        cwd,
        encoding: "utf8",
        env: { ...process.env, LC_ALL: "C", LANG: "C", PGTZ: "UTC" },
        timeout: 60_000,
      },
      (err, stdout, stderr) => {
        if (!err) return resolve();
        reject(
          new Error(
            `${program} ${args.join(" ")} failed (${err.message.split("\n")[0]}):\n${stdout}${stderr}`,
          ),
        );
      },
    );
  });
}

const shellQuote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

const live = new Set<string>();
/** A test process that crashed or was stopped (the runner's timeout) must not leave postmasters behind. */
function abandonAll(): void {
  for (const dir of live) {
    try {
      const pid = Number(readFileSync(join(dir, "pgdata", "postmaster.pid"), "utf8").split("\n")[0]);
      if (pid > 0) process.kill(pid, "SIGQUIT"); // immediate shutdown
    } catch {
      // not running
    }
    rmSync(dir, { recursive: true, force: true });
  }
  live.clear();
}
process.once("exit", abandonAll);
for (const [signal, code] of [
  ["SIGTERM", 143],
  ["SIGINT", 130],
] as const) {
  process.once(signal, () => {
    abandonAll();
    process.exit(code);
  });
}

export async function startTestPostgres(): Promise<TestPostgres> {
  if (POSTGRES_SKIP) throw new Error(POSTGRES_SKIP);
  const dir = mkdtempSync(join(tmpdir(), "cb-test-pg-"));
  const dataDir = join(dir, "pgdata");
  const sockDir = join(dir, "sock");
  mkdirSync(sockDir);
  if (PG_USER) {
    for (const path of [dir, sockDir]) chownSync(path, PG_USER.uid, PG_USER.gid);
  }
  live.add(dir);
  const port = await freePort();
  const startArgs = [
    "-D",
    dataDir,
    "-o",
    `-p ${port} -k ${sockDir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`,
    "-l",
    join(dir, "server.log"),
    "-w",
    "-t",
    "60",
    "start",
  ];
  const stopArgs = (mode: "fast" | "immediate") => ["-D", dataDir, "-m", mode, "-w", "-t", "60", "stop"];

  try {
    await runPg(
      "initdb",
      ["-D", dataDir, "-U", "postgres", "--auth=trust", "--no-locale", "-E", "UTF8"],
      dir,
    );
    await runPg("pg_ctl", startArgs, dir);
  } catch (err) {
    live.delete(dir);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const base = `postgres://postgres@127.0.0.1:${port}`;
  const createDatabase = async (name: string) => {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
    const admin = new pg.Client({ connectionString: `${base}/postgres` });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${name}`);
    } finally {
      await admin.end();
    }
    return `${base}/${name}`;
  };
  const url = await createDatabase("claudebench");
  return {
    url,
    port,
    dataDir,
    createDatabase,
    stop: () => runPg("pg_ctl", stopArgs("fast"), dir),
    start: () => runPg("pg_ctl", startArgs, dir),
    kill: async () => {
      const pid = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
      // the backends too: orphans still attached to the shared memory would block the next start
      let children: number[] = [];
      try {
        children = execFileSync("ps", ["-o", "pid=", "--ppid", String(pid)], { encoding: "utf8" })
          .split(/\s+/)
          .filter(Boolean)
          .map(Number);
      } catch {
        // no children
      }
      const all = [pid, ...children];
      for (const p of all) {
        try {
          process.kill(p, "SIGKILL");
        } catch {
          // already gone
        }
      }
      const alive = (p: number) => {
        try {
          process.kill(p, 0);
          return true;
        } catch {
          return false;
        }
      };
      const deadline = Date.now() + 10_000;
      while (all.some(alive)) {
        if (Date.now() > deadline)
          throw new Error(`PostgreSQL processes ${all.filter(alive)} survived SIGKILL`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    destroy: async () => {
      try {
        if (existsSync(join(dataDir, "postmaster.pid"))) await runPg("pg_ctl", stopArgs("immediate"), dir);
      } catch {
        // already gone (killed)
      } finally {
        live.delete(dir);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
