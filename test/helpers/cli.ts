import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export { freePort } from "../../src/storage/embedded-redis.js";

export const CLI = join(import.meta.dirname, "../../bin/claudebench.js");

export interface SpawnedCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

const emptyDirs: string[] = [];
process.once("exit", () => {
  for (const dir of emptyDirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * A fresh empty directory, removed when the test process exits: where a CLI runs unless a test
 * says otherwise, so that its defaults (./.claudebench: data, plugins, policy, workflows) are
 * its own and never the user's.
 */
export function emptyDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "cb-cwd-"));
  emptyDirs.push(dir);
  return dir;
}

/** Runs the real `claudebench` CLI (the built bin) with the given arguments, in `cwd` (an empty directory by default). */
export function runCli(args: string[], env: NodeJS.ProcessEnv = process.env, cwd = emptyDir()): SpawnedCli {
  const child = spawn(process.execPath, [CLI, ...args], { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    err += d;
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Waits until `predicate` holds, polling; fails with `what` after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
