import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { freePort, runDangerousPreToolUse } from "../helpers/cli.js";
import { until } from "../helpers/cluster.js";

/**
 * The packed package as a user installs it outside the clone: `npm pack`, then
 * `npm install -g <tarball>` into a temporary prefix; the installed `claudebench` then runs
 * --version, `serve` (with --no-db, and by default: private Redis and PGlite) and `init` in a
 * project of its own. npm takes the dependencies from its cache when it has them
 * (--prefer-offline), else from the registry.
 *
 * The tarball is packed with --ignore-scripts: from the dist/ that `npm test` built (bootstrap),
 * not rebuilt under the other tests that use it. An install of a tarball never runs its
 * `prepare` (npm runs it for git and directory installs only), so it needs no devDependencies.
 */

const ROOT = join(import.meta.dirname, "../..");
const PKG = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  version: string;
  dependencies: Record<string, string>;
};

const work = mkdtempSync(join(tmpdir(), "cb-install-"));
const prefix = join(work, "prefix");
const installed = join(prefix, "lib/node_modules/claudebench");
const claudebench = join(prefix, "bin/claudebench");
const children: ChildProcess[] = [];

/** npm as a user's shell runs it: without the npm_* variables of the `npm test` around us. */
function userEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (/^npm_/i.test(name)) delete env[name];
  for (const name of ["CLAUDEBENCH_URL", "CLAUDEBENCH_TOKEN", "AUTH_TOKEN", "PORT", "DATA_DIR", "REDIS_URL"])
    delete env[name];
  return env;
}

function run(file: string, args: string[], cwd = work): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, env: userEnv(), maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(" ")} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** `claudebench serve ...` from the installed binary, in `cwd`; resolves once /health answers `healthy`. */
async function serve(cwd: string, args: string[], timeoutMs: number): Promise<string> {
  const port = await freePort();
  const child = spawn(claudebench, ["serve", "--port", String(port), "--log-level", "warn", ...args], {
    cwd,
    env: userEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  child.stdout?.on("data", (d) => {
    output += d;
  });
  child.stderr?.on("data", (d) => {
    output += d;
  });
  const url = `http://127.0.0.1:${port}`;
  await until(
    async () => {
      if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}:\n${output}`);
      const res = await fetch(`${url}/health`).catch(() => null);
      return res?.ok && ((await res.json()) as { status: string }).status === "healthy";
    },
    `the installed serve ${args.join(" ")} to be healthy (output: ${output})`,
    timeoutMs,
    200,
  );
  return url;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  await exited;
}

const files = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) =>
    statSync(join(dir, name)).isDirectory() ? files(join(dir, name)).map((f) => `${name}/${f}`) : [name],
  );

let packed: string[];
before(async () => {
  const { stdout } = await run(
    "npm",
    ["pack", "--ignore-scripts", "--json", "--pack-destination", work],
    ROOT,
  );
  const [info] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
  assert.ok(info);
  packed = info.files.map((f) => f.path);
  await run("npm", [
    "install",
    "--global",
    "--prefix",
    prefix,
    "--prefer-offline",
    "--no-audit",
    "--no-fund",
    join(work, info.filename),
  ]);
});
after(async () => {
  await Promise.all(children.map(stop));
  rmSync(work, { recursive: true, force: true });
});

describe("the packed package, installed globally", () => {
  it("holds the build, every Lua script and migration and the dashboard, not the sources or tests", () => {
    for (const path of ["bin/claudebench.js", "dist/cli/main.js", "dist/cli/hook.js", "dist/index.d.ts"])
      assert.ok(packed.includes(path), path);
    for (const file of files(join(ROOT, "src/storage/lua")))
      assert.ok(packed.includes(`dist/storage/lua/${file}`), file);
    for (const file of files(join(ROOT, "src/storage/db/migrations")))
      assert.ok(packed.includes(`dist/storage/db/migrations/${file}`), file);
    for (const file of ["index.html", "app.js", "style.css", "icon.svg"])
      assert.ok(packed.includes(`dist/dashboard/public/${file}`), file);
    assert.deepEqual(
      packed.filter((p) => /^(src|test|bench|scripts)\//.test(p)),
      [],
    );
  });

  it("imports nothing but node's modules and its own dependencies (no devDependencies at run time)", () => {
    const builtins = new Set(builtinModules);
    const imported = new Set<string>();
    const serverCode = (f: string) => f.endsWith(".js") && !f.startsWith("dashboard/public/"); // not the browser's
    for (const file of files(join(installed, "dist")).filter(serverCode)) {
      const text = readFileSync(join(installed, "dist", file), "utf8");
      const statements =
        /^\s*(?:import|export)\s[^;]*?\bfrom\s*["']([^"']+)["']|^\s*import\s*["']([^"']+)["']/gm;
      const dynamic = /\bimport\(\s*["']([^"']+)["']\s*\)/g;
      for (const m of [...text.matchAll(statements), ...text.matchAll(dynamic)]) {
        const spec = (m[1] ?? m[2]) as string;
        if (!spec.startsWith(".")) imported.add(spec);
      }
    }
    const packageOf = (spec: string) =>
      spec
        .split("/")
        .slice(0, spec.startsWith("@") ? 2 : 1)
        .join("/");
    const foreign = [...imported].filter(
      (spec) => !spec.startsWith("node:") && !builtins.has(spec) && !(packageOf(spec) in PKG.dependencies),
    );
    assert.deepEqual(foreign, []);
    assert.ok(imported.has("ioredis") && imported.has("zod"), [...imported].join(" "));
  });

  it("--version prints the package's version", async () => {
    const { stdout } = await run(claudebench, ["--version"]);
    assert.equal(stdout.trim(), PKG.version);
  });

  it("serve --no-db in a project: a plugin of the project, the dashboard; init --command there runs the installed hook", async () => {
    const project = mkdtempSync(join(work, "project-"));
    mkdirSync(join(project, ".claudebench/plugins"), { recursive: true });
    copyFileSync(join(ROOT, "examples/plugins/hello.ts"), join(project, ".claudebench/plugins/hello.ts"));
    const url = await serve(project, ["--no-db"], 60_000);

    const greet = await fetch(`${url}/rpc`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "hello.greet", params: { name: "npm" } }),
    });
    assert.equal(((await greet.json()) as { result: { greeting: string } }).result.greeting, "Hello, npm!");
    const page = await fetch(`${url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /src="\/ui\/app\.js"/);
    assert.equal((await fetch(`${url}/ui/app.js`)).status, 200);

    const init = await run(claudebench, ["init", "--command", "--url", url], project);
    assert.match(init.stdout, new RegExp(`server: ${url} answers /health`));
    const settings = JSON.parse(readFileSync(join(project, ".claude/settings.json"), "utf8"));
    const command = settings.hooks.PreToolUse[0].hooks[0].command as string;
    assert.equal(command, `${process.execPath} ${join(installed, "bin/claudebench.js")} hook --url ${url}`);

    // As Claude Code runs it: a deny is exit 2, which Claude Code enforces.
    const hook = await runDangerousPreToolUse(command, project, userEnv());
    assert.equal(hook.code, 2, hook.stderr);
    assert.match(hook.stderr, /rm-critical/);
  });

  it("serve by default: a private Redis and PGlite in its data directory", async () => {
    const dataDir = join(work, "default-data");
    const url = await serve(work, ["--data-dir", dataDir], 180_000);
    // The store starts in its own process after the server is healthy: wait until it answers.
    type Health = { checks: { database: { ok: boolean; kind: string } } };
    const deadline = Date.now() + 180_000;
    let health: Health;
    do {
      health = (await (await fetch(`${url}/health`)).json()) as Health;
      if (!health.checks.database.ok) await new Promise((resolve) => setTimeout(resolve, 250));
    } while (!health.checks.database.ok && Date.now() < deadline);
    assert.deepEqual([health.checks.database.kind, health.checks.database.ok], ["pglite", true]);
  });
});
