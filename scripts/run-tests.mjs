// Runs the test suite with node's test runner (Node 20 needs explicit paths, no globs).
//   node scripts/run-tests.mjs                 unit + integration (2 files at a time), then e2e one file at a time
//   node scripts/run-tests.mjs unit|integration|e2e|<path>...
// End-to-end files start several servers, PGlite and soak loads each: on a 2-core machine
// they run one after another so that their timing-sensitive checks (heartbeats, leases,
// failover bounds) measure the code, not a starved CPU. The last line sums up every phase.
import { spawn } from "node:child_process";
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

function run(files, concurrency) {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--test", `--test-concurrency=${concurrency}`, "--test-timeout=600000", ...files],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const totals = { pass: 0, fail: 0, skipped: 0 };
    let pending = "";
    child.stdout.on("data", (chunk) => {
      process.stdout.write(chunk);
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const m = /^# (pass|fail|skipped) (\d+)$/.exec(line);
        if (m) totals[m[1]] = Number(m[2]);
      }
    });
    child.on("close", (code) => resolve({ code: code ?? 1, ...totals }));
  });
}

const args = process.argv.slice(2);
const phases =
  args.length === 0
    ? [
        { files: [...collect("test/unit"), ...collect("test/integration")], concurrency: 2 },
        { files: collect("test/e2e"), concurrency: 1 },
      ]
    : [{ files: args.flatMap((a) => (a.endsWith(".ts") ? [a] : collect(join("test", a)))), concurrency: 2 }];

if (phases.every((p) => p.files.length === 0)) {
  console.error("run-tests: no test files found");
  process.exit(1);
}
let failed = false;
const sum = { pass: 0, fail: 0, skipped: 0 };
for (const phase of phases) {
  if (phase.files.length === 0) continue;
  const result = await run(phase.files, phase.concurrency);
  failed ||= result.code !== 0;
  sum.pass += result.pass;
  sum.fail += result.fail;
  sum.skipped += result.skipped;
}
if (phases.length > 1) console.log(`\n${sum.pass} passed, ${sum.fail} failed, ${sum.skipped} skipped`);
process.exit(failed ? 1 : 0);
