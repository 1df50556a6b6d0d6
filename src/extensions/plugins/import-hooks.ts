/**
 * Module hooks for plugin files, registered once by plugin-import.ts. They run on Node's
 * loader thread, so this module imports nothing of the server:
 *  - `claudebench` resolves to the running server's own package, wherever the plugin
 *    directory is: a plugin outside any project with node_modules still imports
 *    `defineHandler` (and `z`), and gets the very module instance the server uses;
 *  - a plugin's relative imports inherit its generation (`?claudebench-plugin=N`), so a
 *    reload re-imports the plugin's own helper modules too, not only its top file;
 *  - plugin modules are ES modules whatever the nearest package.json says (a plugin
 *    directory usually has none), and TypeScript ones are compiled by esbuild, types
 *    stripped (Node 20 cannot run TypeScript; nothing is type-checked here).
 * Node's module hooks (`module.register`) need Node 20.6; package.json asks for 20.10.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { transform } from "esbuild";

interface ResolveContext {
  parentURL?: string;
}
interface ResolveResult {
  url: string;
  format?: string | null;
  shortCircuit?: boolean;
}
interface LoadResult {
  format: string;
  source?: string | Buffer;
  shortCircuit?: boolean;
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<ResolveResult>;
type NextLoad = (url: string, context: { format?: string | null }) => Promise<LoadResult>;

let packageEntry = "";
/** The query parameter that carries a plugin module's generation (set by plugin-import.ts). */
let generationParam = "";

export function initialize(data: { packageEntry: string; generationParam: string }): void {
  packageEntry = data.packageEntry;
  generationParam = data.generationParam;
}

const generationOf = (url: string | undefined) =>
  url?.includes(generationParam) ? new URL(url).searchParams.get(generationParam) : null;

export async function resolve(
  specifier: string,
  context: ResolveContext,
  next: NextResolve,
): Promise<ResolveResult> {
  if (specifier === "claudebench") return { url: packageEntry, format: "module", shortCircuit: true };
  const generation = generationOf(context.parentURL);
  if (!generation || !specifier.startsWith(".")) return next(specifier, context);
  const result = await next(specifier, context).catch((err: { code?: string }) => {
    // TypeScript's convention: `./util.js` in the source names `./util.ts` on disk.
    if (err.code !== "ERR_MODULE_NOT_FOUND" || !/\.m?js$/.test(specifier)) throw err;
    return next(specifier.replace(/js$/, "ts"), context);
  });
  const url = new URL(result.url);
  if (url.protocol !== "file:") return result;
  url.searchParams.set(generationParam, generation);
  return { ...result, url: url.href };
}

export async function load(url: string, context: { format?: string | null }, next: NextLoad) {
  if (!generationOf(url)) return next(url, context);
  const path = fileURLToPath(url);
  const language = /\.m?ts$/.test(path) ? "ts" : /\.m?js$/.test(path) ? "js" : null;
  if (!language) return next(url, context);
  // JavaScript goes through esbuild too: its syntax errors name the line and column.
  const { code } = await transform(await readFile(path, "utf8"), {
    loader: language,
    format: "esm",
    target: "node20",
    sourcefile: path,
    sourcemap: "inline",
  });
  return { format: "module", source: code, shortCircuit: true };
}
