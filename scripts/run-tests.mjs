// Runs every test file under test/ with node's test runner (Node 20 needs explicit paths, no globs).
// Usage: node scripts/run-tests.mjs [unit|integration|e2e|<path>...]
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function collect(dir) {
  return readdirSync(dir)
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return collect(path);
      return name.endsWith(".test.ts") ? [path] : [];
    })
    .sort();
}

const args = process.argv.slice(2);
const files =
  args.length === 0
    ? collect("test")
    : args.flatMap((a) => (a.endsWith(".ts") ? [a] : collect(join("test", a))));
if (files.length === 0) {
  console.error("run-tests: no test files found");
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=4", "--test-timeout=120000", ...files],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
