import type { AnyHandler } from "./handler.js";
import { domainOf, isValidHandlerName } from "./naming.js";

export class RegistryError extends Error {
  override name = "RegistryError";
}

/** What a change of the plugin handlers did, by method name. */
export interface RegistryChange {
  added: string[];
  removed: string[];
  /** Served before and after, by a different handler (a plugin reloaded, an override added or removed). */
  changed: string[];
}

/** A plugin handler and the file it came from. */
export interface PluginHandler {
  handler: AnyHandler;
  source: string;
}

/**
 * The handlers a server serves, by name: the built-ins, fixed at construction from an
 * explicit list, and the plugin handlers, which `setPlugins` replaces as a whole while the
 * server runs. Transports and policies cache what they derive from the registry and rebuild
 * it in an `onChange` listener, so a call's lookup stays one map read.
 */
export class Registry {
  readonly #builtins = new Map<string, AnyHandler>();
  #byName = new Map<string, AnyHandler>();
  #catchAll = new Map<string, AnyHandler>();
  #sources = new Map<string, string>();
  readonly #listeners: ((change: RegistryChange) => void)[] = [];

  constructor(handlers: readonly AnyHandler[]) {
    for (const handler of handlers) {
      if (!isValidHandlerName(handler.name)) throw new RegistryError(badName(handler.name));
      if (this.#builtins.has(handler.name)) {
        throw new RegistryError(`handler "${handler.name}" is defined twice`);
      }
      this.#builtins.set(handler.name, handler);
    }
    this.#install([]);
  }

  /** The handler for a method name: its own, else its domain's catch-all. */
  resolve(name: string): AnyHandler | undefined {
    return (
      this.#byName.get(name) ?? (isValidHandlerName(name) ? this.#catchAll.get(domainOf(name)) : undefined)
    );
  }

  get(name: string): AnyHandler | undefined {
    return this.#byName.get(name);
  }

  list(): AnyHandler[] {
    return [...this.#byName.values()];
  }

  /** The built-in handlers, including those a plugin overrides right now. */
  builtins(): AnyHandler[] {
    return [...this.#builtins.values()];
  }

  /** The plugin file that serves `name`, or undefined for a built-in. */
  sourceOf(name: string): string | undefined {
    return this.#sources.get(name);
  }

  /** Why `handler` cannot be served as a plugin handler next to the built-ins, or null. */
  problemWith(handler: AnyHandler): string | null {
    if (!isValidHandlerName(handler.name)) return badName(handler.name);
    if (this.#builtins.has(handler.name) && handler.overrides !== true) {
      return `"${handler.name}" is a built-in handler; declare overrides: true to replace it`;
    }
    if (handler.catchAll) {
      const owner = [...this.#builtins.values()].find(
        (h) => h.catchAll && domainOf(h.name) === domainOf(handler.name) && h.name !== handler.name,
      );
      if (owner) return `domain "${domainOf(handler.name)}" already has a catch-all handler (${owner.name})`;
    }
    return null;
  }

  /**
   * Serves exactly these plugin handlers from now on (the previous ones go), each built-in
   * one overrides stepping aside; then tells every listener what changed.
   */
  setPlugins(plugins: readonly PluginHandler[]): RegistryChange {
    const seen = new Set<string>();
    for (const { handler } of plugins) {
      const problem = this.problemWith(handler);
      if (problem) throw new RegistryError(problem);
      if (seen.has(handler.name)) throw new RegistryError(`handler "${handler.name}" is defined twice`);
      seen.add(handler.name);
    }
    const before = this.#byName;
    this.#install(plugins);
    const change: RegistryChange = { added: [], removed: [], changed: [] };
    for (const [name, handler] of this.#byName) {
      const previous = before.get(name);
      if (!previous) change.added.push(name);
      else if (previous !== handler) change.changed.push(name);
    }
    for (const name of before.keys()) if (!this.#byName.has(name)) change.removed.push(name);
    if (change.added.length + change.removed.length + change.changed.length > 0) {
      for (const listener of this.#listeners) listener(change);
    }
    return change;
  }

  /**
   * Called, in the order registered, after every change that adds, removes or replaces a
   * handler. Returns the function that stops it.
   */
  onChange(listener: (change: RegistryChange) => void): () => void {
    this.#listeners.push(listener);
    return () => {
      const at = this.#listeners.indexOf(listener);
      if (at >= 0) this.#listeners.splice(at, 1);
    };
  }

  /** Builds fresh maps and swaps them in, so a lookup never sees a half-made table. */
  #install(plugins: readonly PluginHandler[]): void {
    const byName = new Map(this.#builtins);
    const sources = new Map<string, string>();
    for (const { handler, source } of plugins) {
      byName.set(handler.name, handler);
      sources.set(handler.name, source);
    }
    const catchAll = new Map<string, AnyHandler>();
    for (const handler of byName.values()) {
      if (!handler.catchAll) continue;
      const domain = domainOf(handler.name);
      if (catchAll.has(domain)) throw new RegistryError(`domain "${domain}" has two catch-all handlers`);
      catchAll.set(domain, handler);
    }
    this.#byName = byName;
    this.#catchAll = catchAll;
    this.#sources = sources;
  }
}

const badName = (name: string) =>
  `handler name "${name}" must be lower-case "domain.action" (letters, digits, _)`;
