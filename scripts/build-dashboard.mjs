// Bundles the dashboard (src/dashboard/ui) into dist/dashboard/public, which
// src/dashboard/static.ts serves: one script (with uPlot, the charting library, inside), one
// stylesheet (with uPlot's rules inside), the page and its icon. No CDN at run time.
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

const root = join(import.meta.dirname, "..");
const src = join(root, "src/dashboard/ui");
const out = join(root, "dist/dashboard/public");
mkdirSync(out, { recursive: true });

const common = { bundle: true, target: ["chrome120", "firefox120"], minify: true, logLevel: "warning" };
await build({
  ...common,
  entryPoints: [join(src, "main.ts")],
  outfile: join(out, "app.js"),
  format: "esm",
  sourcemap: true,
});
await build({ ...common, entryPoints: [join(src, "style.css")], outfile: join(out, "style.css") });
for (const file of ["index.html", "icon.svg"]) copyFileSync(join(src, file), join(out, file));
