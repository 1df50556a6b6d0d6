import type { AnyHandler } from "./handler.js";
import { domainOf, isValidHandlerName } from "./naming.js";

export class RegistryError extends Error {
  override name = "RegistryError";
}

/** The handlers a server serves, by name. Built once from an explicit list. */
export class Registry {
  readonly #byName = new Map<string, AnyHandler>();
  readonly #catchAll = new Map<string, AnyHandler>();

  constructor(handlers: readonly AnyHandler[]) {
    for (const handler of handlers) {
      if (!isValidHandlerName(handler.name)) {
        throw new RegistryError(
          `handler name "${handler.name}" must be lower-case "domain.action" (letters, digits, _)`,
        );
      }
      if (this.#byName.has(handler.name)) {
        throw new RegistryError(`handler "${handler.name}" is defined twice`);
      }
      this.#byName.set(handler.name, handler);
      if (handler.catchAll) {
        const domain = domainOf(handler.name);
        if (this.#catchAll.has(domain)) {
          throw new RegistryError(`domain "${domain}" has two catch-all handlers`);
        }
        this.#catchAll.set(domain, handler);
      }
    }
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
}
