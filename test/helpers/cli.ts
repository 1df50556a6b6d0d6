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

/**
 * Runs a hook `command` as Claude Code does (through the shell, in the project `cwd`) with a
 * PreToolUse event for `rm -rf /` on stdin: the exit code and stderr (a deny is exit 2).
 */
export async function runDangerousPreToolUse(
  command: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | string; stderr: string }> {
  const hook = spawn("/bin/sh", ["-c", command], { cwd, env, stdio: ["pipe", "ignore", "pipe"] });
  let stderr = "";
  hook.stderr?.on("data", (d) => {
    stderr += d;
  });
  const exited = new Promise<number | string>((resolve) =>
    hook.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  hook.stdin?.end(
    JSON.stringify({
      session_id: "hook-command-check",
      cwd,
      hook_event_name: "PreToolUse",
      tool_name: "Bash",
      tool_input: { command: "rm -rf /" },
    }),
  );
  return { code: await exited, stderr };
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
