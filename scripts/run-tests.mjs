// Runs the test suite with node's test runner (Node 20 needs explicit paths, no globs).
//   node scripts/run-tests.mjs                 unit + integration (2 files at a time), then e2e one file at a time
//   node scripts/run-tests.mjs unit|integration|e2e|<path>...
// End-to-end files start several servers, PGlite and soak loads each: on a 2-core machine
// they run one after another so that their timing-sensitive checks (heartbeats, leases,
// failover bounds) measure the code, not a starved CPU. Each phase ends with a summary line.
//
// Tests own their state: they never read the working directory's .claudebench/, which is the
// user's (plugins, policy, workflows). To hold them to it, the tests run in a temporary
// directory whose .claudebench/ is hostile: the shipped example plugins and workflows (what
// docs/extending.md has users install), a policy that denies every tool call and blocks every
// prompt, and a plugin that leaves a mark when it is loaded; a mark fails the run.
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");

function collect(dir) {
  return readdirSync(dir)
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return collect(path);
      return name.endsWith(".test.ts") ? [path] : [];
    })
    .sort();
}

/** A temporary working directory with a hostile .claudebench/; returns it and its mark file. */
function hostileCwd() {
  const dir = mkdtempSync(join(tmpdir(), "cb-tests-cwd-"));
  const state = join(dir, ".claudebench");
  cpSync(join(root, "examples/plugins"), join(state, "plugins"), { recursive: true });
  cpSync(join(root, "examples/workflows"), join(state, "workflows"), { recursive: true });
  const reason = "a test read the working directory's .claudebench/policy.json instead of its own";
  writeFileSync(
    join(state, "policy.json"),
    JSON.stringify({
      rules: [{ id: "hostile-cwd", tool: "*", decision: "deny", reason }],
      prompt: [{ id: "hostile-cwd", match: ".", decision: "block", reason }],
      onServerUnavailable: "block",
    }),
  );
  const mark = join(state, "plugins-were-loaded");
  writeFileSync(
    join(state, "plugins", "hostile-cwd.js"),
    `import { appendFileSync } from "node:fs";\nappendFileSync(${JSON.stringify(mark)}, process.argv.slice(1).join(" ") + "\\n");\n`,
  );
  return { dir, mark };
}

function run(files, concurrency, cwd) {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        import.meta.resolve("tsx"), // by path: the working directory has no node_modules
        "--test",
        `--test-concurrency=${concurrency}`,
        "--test-timeout=600000",
        ...files,
      ],
      {
        cwd,
        env: { ...process.env, TSX_TSCONFIG_PATH: join(root, "tsconfig.json") },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    const totals = { pass: 0, fail: 0, skipped: 0, failures: [] };
    let pending = "";
    child.stdout.on("data", (chunk) => {
      process.stdout.write(chunk);
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const m = /^# (pass|fail|skipped) (\d+)$/.exec(line);
        if (m) totals[m[1]] = Number(m[2]);
        const failed = /^( *)not ok \d+ - (.*)$/.exec(line);
        if (failed) totals.failures.push(`${failed[1]}${failed[2]}`);
      }
    });
    child.on("close", (code) => resolve({ code: code ?? 1, ...totals }));
  });
}

const args = process.argv.slice(2);
const phases =
  args.length === 0
    ? [
        {
          name: "unit+integration",
          files: [...collect(join(root, "test/unit")), ...collect(join(root, "test/integration"))],
          concurrency: 2,
        },
        { name: "e2e", files: collect(join(root, "test/e2e")), concurrency: 1 },
      ]
    : [
        {
          name: args.length === 1 ? args[0] : `${args.length} selections`,
          files: args.flatMap((a) => (a.endsWith(".ts") ? [resolve(a)] : collect(join(root, "test", a)))),
          concurrency: 2,
        },
      ];

if (phases.every((p) => p.files.length === 0)) {
  console.error("run-tests: no test files found");
  process.exit(1);
}
const { dir, mark } = hostileCwd();
process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
process.once("SIGINT", () => process.exit(130));

let failed = false;
const summary = [];
for (const phase of phases) {
  if (phase.files.length === 0) continue;
  const started = Date.now();
  const result = await run(phase.files, phase.concurrency, dir);
  failed ||= result.code !== 0;
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  summary.push(
    `${phase.name}: ${result.pass} passed, ${result.fail} failed, ${result.skipped} skipped (${seconds}s)`,
    ...result.failures.map((name) => `  not ok: ${name}`),
  );
  if (existsSync(mark)) {
    failed = true;
    summary.push(
      `  a test loaded the plugins of its working directory's .claudebench/ (${mark}): tests must use their own directories`,
    );
    rmSync(mark);
  }
}
console.log(`\n${summary.join("\n")}`);
process.exit(failed ? 1 : 0);
