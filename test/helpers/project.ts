import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Temporary project directories for hook and policy tests, removed by `removeProjectDirs`. */
const made: string[] = [];

/**
 * A temporary project directory, with `.claudebench/policy.json` when a policy is given: an
 * object is written as JSON, a string as it is (to test a broken file).
 */
export function projectDir(policy?: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "cb-project-"));
  made.push(dir);
  if (policy !== undefined) {
    mkdirSync(join(dir, ".claudebench"));
    writeFileSync(
      join(dir, ".claudebench", "policy.json"),
      typeof policy === "string" ? policy : JSON.stringify(policy),
    );
  }
  return dir;
}

export function removeProjectDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}
