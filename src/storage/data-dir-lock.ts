import { createHash, randomUUID } from "node:crypto";
import {
  closeSync,
  fstatSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { resolve } from "node:path";

/**
 * One `serve` process owns a data directory at a time: two would run two redis-servers on
 * one AOF and two PGlite owners on one database. The lock is the file `serve.lock`, holding
 * `{"pid":<owner>,"id":<random id of this acquisition>}`.
 *
 * Taking a free lock: the record is written to a temporary file of our own, fsynced, then
 * hard-linked to `serve.lock`. link(2) fails with EEXIST when the name exists, so of many
 * processes starting at once exactly one creates it, and a reader never sees it half-written.
 *
 * Held or stale: a record whose process runs is held (one with our own pid only if this
 * process took it: a container restarted under the same pid does not lock itself out). A file
 * that cannot be read as a record — empty or half-written by a version that wrote it in
 * place, or damaged — is held while its mtime is younger than UNREADABLE_STALE_MS, stale
 * after (it cannot be a writer still at work by then). A pid reused by an unrelated process
 * keeps a stale lock held: the error names the pid, the safe side.
 *
 * Taking over a stale lock: deleting it and linking ours would race — two contenders that
 * read the same stale file both delete it, the second deleting the first's fresh lock. So a
 * stale file gets one successor. A contender first creates, by link like the lock, the claim
 * `serve.lock.<identity>.<k>.claim` (identity: the stale record's id; for an unreadable file
 * a hash of its inode, mtime and content). Holding the claim it reads `serve.lock` again: if
 * it is still that stale file, it replaces it with its own record by rename(2), which is
 * atomic, and drops the claim; if not, it drops the claim and starts over.
 * Why only one wins: `serve.lock` changes only by a link while it is absent, by its owner's
 * release, or by a rename under a claim on the very file it replaces; a claim has one holder
 * at a time, and a holder that finds the file changed leaves it alone. Two contenders that
 * read the same stale file are therefore serialised by its claim, and the second finds the
 * first's record. A contender that finds the claim held waits for its holder (moments) and
 * looks again; a claim whose holder died mid-way (kill -9 between claim and rename) is passed
 * over for claim k + 1 — a dead process stays dead, so each file has at most one live
 * claimant — and the winner removes the dead ones' claims.
 */

export class DataDirLockedError extends Error {
  override name = "DataDirLockedError";
}

interface DataDirLock {
  release(): void;
}

/** An unreadable lock or claim younger than this may still be being written. */
const UNREADABLE_STALE_MS = 10_000;
/** How long to wait for a contender that is mid-way through its takeover, or for a writer. */
const SETTLE_MS = 1000;
const PAUSE_MS = 5;

/** A record's id names its claims: letters, digits and dashes (ours are UUIDs). */
const RECORD_ID = /^[A-Za-z0-9-]{1,64}$/;

type Found =
  | { kind: "absent" }
  | { kind: "record"; pid: number; id: string; identity: string }
  | { kind: "unreadable"; ageMs: number; identity: string };

/** Ids of the locks this process holds. */
const ours = new Set<string>();

const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
};

const isStale = (found: Found) =>
  found.kind === "record"
    ? found.pid === process.pid
      ? !ours.has(found.id)
      : !isRunning(found.pid)
    : found.kind === "unreadable" && Math.abs(found.ageMs) >= UNREADABLE_STALE_MS;

const code = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** Reads a lock or claim file through one descriptor, so its content and identity match. */
function inspect(path: string): Found {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    if (code(err) === "ENOENT") return { kind: "absent" };
    throw err;
  }
  try {
    const stat = fstatSync(fd, { bigint: true });
    const text = readFileSync(fd, "utf8");
    const record = parseRecord(text);
    if (record) return { kind: "record", ...record, identity: record.id };
    const identity = createHash("sha256").update(`${stat.ino}:${stat.mtimeNs}:${text}`).digest("hex");
    return { kind: "unreadable", ageMs: Date.now() - Number(stat.mtimeMs), identity: identity.slice(0, 32) };
  } finally {
    closeSync(fd);
  }
}

function parseRecord(text: string): { pid: number; id: string } | null {
  try {
    const { pid, id } = JSON.parse(text) as { pid?: unknown; id?: unknown };
    return Number.isInteger(pid) && (pid as number) > 0 && typeof id === "string" && RECORD_ID.test(id)
      ? { pid: pid as number, id }
      : null;
  } catch {
    return null;
  }
}

/** Creates `path` as another name of `temp`; false when it exists. */
function tryLink(temp: string, path: string): boolean {
  try {
    linkSync(temp, path);
    return true;
  } catch (err) {
    if (code(err) === "EEXIST") return false;
    throw err;
  }
}

/** Blocks for `ms`: locking happens once at start-up, before the server serves anything. */
const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

type Takeover = { won: true } | { won: false; busy?: Found };

/** Replaces the stale lock file found at `path` with `temp`, under that file's claim. */
function takeOver(path: string, stale: Exclude<Found, { kind: "absent" }>, temp: string): Takeover {
  const claimOf = (k: number) => `${path}.${stale.identity}.${k}.claim`;
  for (let k = 1; ; k++) {
    const claim = claimOf(k);
    if (!tryLink(temp, claim)) {
      const holder = inspect(claim);
      if (holder.kind === "absent") return { won: false }; // its holder finished: look again
      if (!isStale(holder)) return { won: false, busy: holder };
      continue; // its holder died mid-way: the next claim
    }
    try {
      const now = inspect(path);
      if (now.kind === "absent" || now.identity !== stale.identity) return { won: false };
      renameSync(temp, path);
      for (let dead = 1; dead < k; dead++) rmSync(claimOf(dead), { force: true });
      return { won: true };
    } finally {
      rmSync(claim, { force: true });
    }
  }
}

const inUse = (dataDir: string, found: Found) =>
  new DataDirLockedError(
    found.kind === "record"
      ? `data directory ${dataDir} is in use by process ${found.pid}: stop that server, or start this one with another --data-dir (or REDIS_URL)`
      : `data directory ${dataDir} is in use: its serve.lock is empty or unreadable, as while a server is writing it; if no server is starting there, it is taken over once it is ${UNREADABLE_STALE_MS / 1000} s old`,
  );

export function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const path = resolve(dataDir, "serve.lock");
  const id = randomUUID();
  const temp = `${path}.${process.pid}.${id}.tmp`;
  const fd = openSync(temp, "wx");
  try {
    writeSync(fd, JSON.stringify({ pid: process.pid, id }));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    const settleBy = Date.now() + SETTLE_MS;
    // a contender mid-way through its takeover, or a file being written: settles in moments
    const waitFor = (found: Found) => {
      if (Date.now() > settleBy) throw inUse(dataDir, found);
      pause(PAUSE_MS);
    };
    for (;;) {
      if (tryLink(temp, path)) break;
      const found = inspect(path);
      if (found.kind === "absent") continue; // released meanwhile
      if (!isStale(found)) {
        if (found.kind === "record") throw inUse(dataDir, found);
        waitFor(found);
        continue;
      }
      const outcome = takeOver(path, found, temp);
      if (outcome.won) break;
      if (outcome.busy) waitFor(outcome.busy); // else the file changed under us: judge the new one
    }
  } finally {
    rmSync(temp, { force: true });
  }
  ours.add(id);
  let released = false;
  return {
    release: () => {
      if (released) return;
      released = true;
      ours.delete(id);
      const found = inspect(path);
      if (found.kind === "record" && found.id === id) rmSync(path, { force: true });
    },
  };
}
