import type { Dispatcher } from "../../core/dispatch.js";
import type { Logger } from "../../core/logger.js";

/**
 * A kind of value a plugin file may export. The loader asks each kind, in order, whether it
 * recognises an export (values made by a `define*` function carry a brand, a `Symbol.for`
 * property); exports no kind recognises are ignored. Handlers are one kind (handler-kind.ts);
 * subscriptions and hook links join by adding their kind to the list in server.ts.
 */

/** One recognised export, and where it came from. */
export interface ExtensionItem<T = unknown> {
  value: T;
  /** The plugin file's absolute path. */
  file: string;
  /** The export's name (`default` for a default export). */
  exportName: string;
}

/** A file that did not load, or an export a kind refused, and why (the rest still load). */
export interface ExtensionProblem {
  file: string;
  reason: string;
}

/** An item a kind would not install, and why. */
export interface Refusal<T = unknown> {
  item: ExtensionItem<T>;
  reason: string;
}

/** What a kind may use when it installs its values. */
export interface ExtensionContext {
  dispatcher: Dispatcher;
  log: Logger;
}

export interface ExtensionKind<T = unknown> {
  /** Named in reports and in `system.discover` (`handler`, `subscription`, `hook-link`). */
  readonly kind: string;
  recognise(value: unknown): value is T;
  /** A recognised value's name in reports (e.g. the handler's method name). */
  describe(value: T): string;
  /**
   * Makes exactly `items` live, every value of this kind across all plugin files, replacing
   * what the previous call installed (so a reload or a removed file takes effect). Returns
   * the items it refused, each with its reason; the others must be installed.
   */
  install(items: readonly ExtensionItem<T>[], ctx: ExtensionContext): Promise<Refusal<T>[]>;
}

// biome-ignore lint/suspicious/noExplicitAny: a list of kinds holds many value types
export type AnyExtensionKind = ExtensionKind<any>;
