#!/usr/bin/env node
// The published entry point runs the compiled CLI (built by `npm ci` through `prepare`).
// `claudebench hook` runs for every tool call of a Claude Code session: it loads its own small
// module (node built-ins only) instead of the full CLI, so that it starts and answers fast.
const entry = process.argv[2] === "hook" ? "hook.js" : "main.js";
try {
  if (entry === "hook.js") {
    const { main } = await import("../dist/cli/hook.js");
    process.exitCode = await main(process.argv.slice(3), process.env);
  } else {
    await import("../dist/cli/main.js");
  }
} catch (err) {
  if (err?.code === "ERR_MODULE_NOT_FOUND" && String(err.message).includes(`dist/cli/${entry}`)) {
    console.error(
      "claudebench: the CLI is not built yet. Run `npm run build` (or `npm ci`) in the package directory.",
    );
    process.exit(1);
  }
  throw err;
}
