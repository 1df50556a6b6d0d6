#!/usr/bin/env node
// The published entry point runs the compiled CLI (built by `npm ci` through `prepare`).
try {
  await import("../dist/cli/main.js");
} catch (err) {
  if (err?.code === "ERR_MODULE_NOT_FOUND" && String(err.message).includes("dist/cli/main.js")) {
    console.error(
      "claudebench: the CLI is not built yet. Run `npm run build` (or `npm ci`) in the package directory.",
    );
    process.exit(1);
  }
  throw err;
}
