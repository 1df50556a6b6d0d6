// Bundles the dashboard (src/dashboard/ui) into dist/dashboard/public, which
// src/dashboard/static.ts serves: one script, one stylesheet, the page. No CDN at run time.
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

const root = join(import.meta.dirname, "..");
const src = join(root, "src/dashboard/ui");
const out = join(root, "dist/dashboard/public");
mkdirSync(out, { recursive: true });

await build({
  entryPoints: [join(src, "main.ts")],
  outfile: join(out, "app.js"),
  bundle: true,
  format: "esm",
  target: ["chrome120", "firefox120"],
  minify: true,
  sourcemap: true,
  logLevel: "warning",
});
for (const file of ["index.html", "style.css", "icon.svg"]) copyFileSync(join(src, file), join(out, file));
