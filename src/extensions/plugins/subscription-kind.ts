import { isSubscription, type Subscription } from "../subscriptions/define.js";
import type { SubscriptionService } from "../subscriptions/service.js";
import type { ExtensionItem, ExtensionKind, Refusal } from "./extension-kind.js";

/**
 * Plugin subscriptions: values made by `defineSubscription`. Each plugin file is one source
 * of the subscription service, so a changed file replaces its subscriptions and a removed
 * (or emptied) file stops them. A file whose subscriptions cannot run together (a name
 * defined twice, or already defined by another source) is refused as a whole, with the reason.
 */
export function subscriptionKind(subscriptions: SubscriptionService): ExtensionKind<Subscription> {
  let sources = new Set<string>();
  return {
    kind: "subscription",
    recognise: isSubscription,
    describe: (sub) => sub.name,
    async install(items: readonly ExtensionItem<Subscription>[]): Promise<Refusal<Subscription>[]> {
      const byFile = new Map<string, ExtensionItem<Subscription>[]>();
      for (const item of items) {
        const source = `plugin:${item.file}`;
        byFile.set(source, [...(byFile.get(source) ?? []), item]);
      }
      for (const gone of sources) if (!byFile.has(gone)) await subscriptions.install(gone, []);
      sources = new Set(byFile.keys());
      const refused: Refusal<Subscription>[] = [];
      for (const [source, fileItems] of byFile) {
        try {
          await subscriptions.install(
            source,
            fileItems.map((i) => i.value),
          );
        } catch (err) {
          await subscriptions.install(source, []);
          for (const item of fileItems) refused.push({ item, reason: (err as Error).message });
        }
      }
      return refused;
    },
  };
}
