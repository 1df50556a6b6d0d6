import type { AnyHandler } from "./handler.js";
import { isValidHandlerName } from "./naming.js";

export class RegistryError extends Error {
  override name = "RegistryError";
}

/** The handlers a server serves, by name. Built once from an explicit list. */
export class Registry {
  readonly #byName = new Map<string, AnyHandler>();

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
    }
  }

  get(name: string): AnyHandler | undefined {
    return this.#byName.get(name);
  }

  list(): AnyHandler[] {
    return [...this.#byName.values()];
  }
}
