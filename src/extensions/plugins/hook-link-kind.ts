import type { CallContext } from "../../core/context.js";
import { AppError } from "../../core/errors.js";
import type { HookChains } from "../hook-links/chain.js";
import { type HookLink, type HookPoint, isHookLink } from "../hook-links/link.js";
import type { ExtensionItem, ExtensionKind, Refusal } from "./extension-kind.js";

/**
 * Plugin hook links: values made by `defineHookLink`. Each load replaces the links the
 * plugins installed before with exactly the given ones; a link whose name is taken (by a
 * built-in, a link registered by the embedding program, or another plugin file) is refused
 * with its file while the others join their chains.
 */
export function hookLinkKind<C extends CallContext>(hookChains: HookChains<C>): ExtensionKind<HookLink> {
  let installed: string[] = [];
  return {
    kind: "hook-link",
    recognise: isHookLink,
    describe: (link) => `${link.hook}:${link.name}`,
    async install(items: readonly ExtensionItem<HookLink>[]): Promise<Refusal<HookLink>[]> {
      for (const name of installed) hookChains.unregister(name);
      installed = [];
      const refused: Refusal<HookLink>[] = [];
      for (const item of items) {
        try {
          // A plugin link is typed for the server context it was written against (services.ts).
          hookChains.register(item.value as HookLink<HookPoint, C>);
          installed.push(item.value.name);
        } catch (err) {
          if (!(err instanceof AppError)) throw err;
          refused.push({ item, reason: err.message });
        }
      }
      return refused;
    },
  };
}
