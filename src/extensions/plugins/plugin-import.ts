import { register } from "node:module";
import { pathToFileURL } from "node:url";

/**
 * Imports plugin files, TypeScript or JavaScript, fresh each time, through the hooks of
 * import-hooks.ts (registered on first use; they act only on plugin modules). Each import
 * carries a new generation in its URL: ESM caches modules by URL, so a changed file is
 * evaluated again. The older generations stay in that cache (it cannot be emptied):
 * reloading is for development, not for thousands of changes.
 */

/** `.ts` when the server runs from its sources (tests, tsx), `.js` when built. */
const OWN_EXTENSION = import.meta.url.endsWith(".ts") ? ".ts" : ".js";

/** Not imported from import-hooks.ts: that module (and esbuild) loads on the loader thread only. */
const GENERATION_PARAM = "claudebench-plugin";

let registered = false;
let generation = 0;

/**
 * The module namespace of `file` (an absolute path), evaluated anew; `claudebench` imported in
 * it resolves to `packageEntry` (the running package's entry, given by the composition root).
 */
export async function importFresh(file: string, packageEntry: string): Promise<Record<string, unknown>> {
  if (!registered) {
    register(new URL(`./import-hooks${OWN_EXTENSION}`, import.meta.url), {
      data: {
        packageEntry,
        generationParam: GENERATION_PARAM,
      },
    });
    registered = true;
  }
  const url = pathToFileURL(file);
  url.searchParams.set(GENERATION_PARAM, String(++generation));
  return (await import(url.href)) as Record<string, unknown>;
}
