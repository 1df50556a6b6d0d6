import { type AnyHandler, isHandler } from "../../core/handler.js";
import { inputJsonSchema, outputJsonSchema } from "../../core/json-schema.js";
import { domainOf } from "../../core/naming.js";
import type { PluginHandler, Registry } from "../../core/registry.js";
import type { ExtensionItem, ExtensionKind, Refusal } from "./extension-kind.js";

/**
 * Plugin handlers: values made by `defineHandler`. Each is checked before it is served —
 * name, clash with a built-in, schemas, policy — and a refused one is reported with its
 * file while the others are served. The registry then holds exactly the accepted ones.
 */

interface HandlerKindDeps {
  registry: Registry;
  /** Resolves the policies of these handlers; throws when one is invalid (resilience/policy.ts). */
  resolvePolicies(handlers: readonly AnyHandler[]): unknown;
}

/** A Zod 4 schema (any copy of zod 4: its internals live under `_zod`). */
const isZodSchema = (value: unknown): boolean =>
  typeof value === "object" &&
  value !== null &&
  "_zod" in value &&
  typeof (value as { safeParse?: unknown }).safeParse === "function";

/** What `defineHandler`'s types promise but a JavaScript plugin may still get wrong. */
function shapeProblem(handler: AnyHandler): string | null {
  if (typeof handler.name !== "string") return "name must be a string";
  if (typeof handler.description !== "string" || handler.description.trim() === "") {
    return "description must say what the handler does (a model reads it)";
  }
  if (!isZodSchema(handler.input)) return "input must be a Zod schema (import { z } from claudebench)";
  if (!isZodSchema(handler.output)) return "output must be a Zod schema (import { z } from claudebench)";
  if (typeof handler.handle !== "function") return "handle must be a function";
  return null;
}

export function handlerKind(deps: HandlerKindDeps): ExtensionKind<AnyHandler> {
  const { registry } = deps;

  /** Why `handler` cannot join `accepted`, or null. */
  function problemWith(handler: AnyHandler, accepted: readonly PluginHandler[]): string | null {
    const problem = shapeProblem(handler) ?? registry.problemWith(handler);
    if (problem) return problem;
    const twin = accepted.find(({ handler: other }) => other.name === handler.name);
    if (twin) return `"${handler.name}" is already defined in ${twin.source}`;
    const catchAll =
      handler.catchAll &&
      accepted.find(({ handler: h }) => h.catchAll && domainOf(h.name) === domainOf(handler.name));
    if (catchAll) return `domain "${domainOf(handler.name)}" already has a catch-all (${catchAll.source})`;
    try {
      inputJsonSchema(handler);
      outputJsonSchema(handler);
    } catch (err) {
      return `its schemas cannot be described as JSON Schema: ${(err as Error).message}`;
    }
    const plugins = [...accepted.map((p) => p.handler), handler];
    const replaced = new Set(plugins.map((h) => h.name));
    try {
      deps.resolvePolicies([...registry.builtins().filter((h) => !replaced.has(h.name)), ...plugins]);
    } catch (err) {
      return `invalid policy: ${(err as Error).message}`;
    }
    return null;
  }

  return {
    kind: "handler",
    recognise: isHandler,
    describe: (handler) => handler.name,
    async install(items: readonly ExtensionItem<AnyHandler>[]): Promise<Refusal<AnyHandler>[]> {
      const accepted: PluginHandler[] = [];
      const refused: Refusal<AnyHandler>[] = [];
      for (const item of items) {
        const reason = problemWith(item.value, accepted);
        if (reason) refused.push({ item, reason });
        else accepted.push({ handler: item.value, source: item.file });
      }
      registry.setPlugins(accepted);
      return refused;
    },
  };
}
