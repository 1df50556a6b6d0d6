import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

/**
 * One `serve` process owns a data directory at a time: two would run two redis-servers on
 * one AOF (and, later, two PGlite owners on one database). The lock is a file holding the
 * owner's pid, created atomically; a lock whose owner no longer runs is taken over.
 */

export class DataDirLockedError extends Error {
  override name = "DataDirLockedError";
}

const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
};

export interface DataDirLock {
  release(): void;
}

/** Lock files this process holds: a file with our own pid is only stale if we do not hold it. */
const held = new Set<string>();

const inUse = (dataDir: string, owner: number) =>
  new DataDirLockedError(
    `data directory ${dataDir} is in use by process ${owner}: stop that server, or start this one with another --data-dir (or REDIS_URL)`,
  );

export function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const path = resolve(dataDir, "serve.lock");
  // Another server in this same process (startServer used as a library) owns it.
  if (held.has(path)) throw inUse(dataDir, process.pid);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: "wx" });
      held.add(path);
      let released = false;
      return {
        release: () => {
          if (released) return;
          released = true;
          held.delete(path);
          rmSync(path, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const owner = Number(readFileSync(path, "utf8").trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isRunning(owner)) {
        throw inUse(dataDir, owner);
      }
      rmSync(path, { force: true }); // stale: its owner is gone
    }
  }
  throw new DataDirLockedError(`could not lock data directory ${dataDir}: another server is starting there`);
}
