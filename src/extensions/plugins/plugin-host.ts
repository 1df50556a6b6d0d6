import { type FSWatcher, readdirSync, statSync, watch } from "node:fs";
import { extname, join } from "node:path";
import type { EmitFn } from "../../core/context.js";
import type { Logger } from "../../core/logger.js";
import type { Registry, RegistryChange } from "../../core/registry.js";
import type {
  AnyExtensionKind,
  ExtensionContext,
  ExtensionItem,
  ExtensionProblem,
} from "./extension-kind.js";
import { importFresh } from "./plugin-import.js";

/**
 * Loads the plugin directory: every `.js`, `.mjs`, `.ts` and `.mts` file in it (not in its
 * subdirectories, where a plugin keeps its helpers), each export recognised by one of the
 * extension kinds. A file that does not import, or an export a kind refuses, is reported
 * with its file and reason; the rest is served. With `watch`, changes to the directory are
 * applied while the server runs (debounced), and each one is announced as the domain event
 * `system.handlers.changed`.
 */

const PLUGIN_EXTENSIONS = new Set([".js", ".mjs", ".ts", ".mts"]);

/** How long the directory must be quiet before a change is applied (editors write in steps). */
const DEBOUNCE_MS = 100;

interface PluginHostOptions {
  dir: string;
  /** The directory was named explicitly: a missing one is an error, not "no plugins". */
  required: boolean;
  watch: boolean;
  kinds: readonly AnyExtensionKind[];
  registry: Registry;
  emit: EmitFn;
  log: Logger;
  /** The URL of the package entry that `claudebench` resolves to inside a plugin file. */
  packageEntry: string;
}

export class PluginDirError extends Error {
  override name = "PluginDirError";
}

type KindItem = ExtensionItem & { kind: AnyExtensionKind };

/** The plugin directory as loaded now. */
export interface PluginReport {
  /** The plugin directory, or null when there is none to load. */
  dir: string | null;
  watching: boolean;
  /** Each file that contributes something, with what (`{ kind: "handler", name: "hello.greet" }`). */
  files: { file: string; extensions: { kind: string; name: string }[] }[];
  /** Files that did not load and exports that were refused, each with its reason. */
  errors: { file: string; reason: string }[];
}

interface LoadedFile {
  /** What the file looked like when imported: a change in either means re-import. */
  stamp: string;
  items: KindItem[];
  error: string | null;
}

export class PluginHost {
  readonly #options: PluginHostOptions;
  readonly #files = new Map<string, LoadedFile>();
  #present = false;
  #errors: ExtensionProblem[] = [];
  /** The items installed now: recognised, and not refused by their kind. */
  #live: KindItem[] = [];
  #ctx: ExtensionContext | null = null;
  #watcher: FSWatcher | null = null;
  #timer: NodeJS.Timeout | null = null;
  #reloading: Promise<void> = Promise.resolve();

  constructor(options: PluginHostOptions) {
    this.#options = options;
  }

  /** Loads and installs every plugin (start-up), then watches the directory when asked to. */
  async start(ctx: ExtensionContext): Promise<PluginReport> {
    const { dir, required, log } = this.#options;
    this.#present = isDirectory(dir);
    if (!this.#present && required) {
      throw new PluginDirError(`plugin directory ${dir} does not exist (--plugins / PLUGINS_DIR)`);
    }
    this.#ctx = ctx;
    await this.#load();
    if (this.#options.watch) {
      if (this.#present) {
        this.#watcher = watch(dir, () => this.#schedule());
        this.#watcher.on("error", (err) => log.warn({ err, dir }, "watching the plugin directory failed"));
      } else {
        log.info({ dir }, "no plugin directory: nothing to watch");
      }
    }
    return this.report();
  }

  /** Stops watching and waits for a reload under way (it may still announce its change). */
  async close(): Promise<void> {
    this.#watcher?.close();
    this.#watcher = null;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#reloading;
  }

  report(): PluginReport {
    const files = [...this.#files.keys()]
      .map((file) => ({
        file,
        extensions: this.#live
          .filter((item) => item.file === file)
          .map(({ kind, value }) => ({ kind: kind.kind, name: kind.describe(value) })),
      }))
      .filter((file) => file.extensions.length > 0);
    return {
      dir: this.#present ? this.#options.dir : null,
      watching: this.#watcher !== null,
      files,
      errors: [...this.#errors],
    };
  }

  #schedule(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#reloading = this.#reloading.then(() => this.#reload());
    }, DEBOUNCE_MS);
  }

  /** Applies the directory as it is now and announces what changed. */
  async #reload(): Promise<void> {
    const { registry, emit, log } = this.#options;
    const change: RegistryChange = { added: [], removed: [], changed: [] };
    const collect = (c: RegistryChange) => {
      change.added.push(...c.added);
      change.removed.push(...c.removed);
      change.changed.push(...c.changed);
    };
    const stopCollecting = registry.onChange(collect);
    const before = JSON.stringify(this.#errors);
    try {
      await this.#load();
    } catch (err) {
      log.error({ err }, "reloading plugins failed");
      return;
    } finally {
      stopCollecting();
    }
    const touched = change.added.length + change.removed.length + change.changed.length > 0;
    if (!touched && JSON.stringify(this.#errors) === before) return;
    log.info({ ...change, errors: this.#errors.length }, "plugin handlers changed");
    await emit("system.handlers.changed", { ...change, errors: this.#errors }).catch((err) =>
      log.warn({ err }, "announcing the plugin change failed"),
    );
  }

  /** Imports new and changed files, forgets removed ones, and installs every kind's values. */
  async #load(): Promise<void> {
    const { dir, kinds, log } = this.#options;
    const ctx = this.#ctx as ExtensionContext;
    const names = isDirectory(dir)
      ? readdirSync(dir)
          .filter((name) => PLUGIN_EXTENSIONS.has(extname(name)))
          .sort()
      : [];
    const current = new Set(names.map((name) => join(dir, name)));
    for (const file of this.#files.keys()) if (!current.has(file)) this.#files.delete(file);
    for (const file of current) {
      const stamp = stampOf(file);
      if (stamp === null) {
        this.#files.delete(file);
        continue;
      }
      if (this.#files.get(file)?.stamp === stamp) continue;
      const loaded = await this.#import(file, stamp);
      if (loaded.error) log.error({ file, reason: loaded.error }, "plugin file not loaded");
      this.#files.set(file, loaded);
    }
    const errors: ExtensionProblem[] = [];
    for (const [file, loaded] of this.#files) if (loaded.error) errors.push({ file, reason: loaded.error });
    const live: KindItem[] = [];
    for (const kind of kinds) {
      const items = [...this.#files.values()].flatMap((loaded) =>
        loaded.items.filter((item) => item.kind === kind),
      );
      const refused = new Map((await kind.install(items, ctx)).map(({ item, reason }) => [item, reason]));
      for (const item of items) {
        const reason = refused.get(item);
        if (reason === undefined) {
          live.push(item);
          continue;
        }
        const problem = { file: item.file, reason: `export ${item.exportName}: ${reason}` };
        // Once per problem, not again at each reload of another file.
        if (!this.#errors.some((e) => e.file === problem.file && e.reason === problem.reason)) {
          log.error(problem, `plugin ${kind.kind} not loaded`);
        }
        errors.push(problem);
      }
    }
    this.#live = live;
    this.#errors = errors;
  }

  async #import(file: string, stamp: string): Promise<LoadedFile> {
    let exports: Record<string, unknown>;
    try {
      exports = await importFresh(file, this.#options.packageEntry);
    } catch (err) {
      return { stamp, items: [], error: describeImportError(err) };
    }
    const items: LoadedFile["items"] = [];
    for (const [exportName, value] of Object.entries(exports)) {
      const kind = this.#options.kinds.find((k) => k.recognise(value));
      if (kind) items.push({ kind, value, file, exportName });
    }
    if (items.length === 0) {
      const kinds = this.#options.kinds.map((k) => k.kind).join(", ");
      return { stamp, items, error: `exports nothing the server recognises (kinds: ${kinds})` };
    }
    return { stamp, items, error: null };
  }
}

const isDirectory = (path: string) => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

/**
 * Inode, size and modification time: what tells a rewritten file (or one renamed over it, as
 * editors save) from the one imported. Null: gone.
 */
function stampOf(file: string): string | null {
  try {
    const stat = statSync(file);
    return stat.isFile() ? `${stat.ino}:${stat.size}:${stat.mtimeMs}` : null;
  } catch {
    return null;
  }
}

/** The first lines of an import failure: a syntax error's location, or what the module threw. */
function describeImportError(err: unknown): string {
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return message.split("\n").slice(0, 3).join(" ").trim();
}
