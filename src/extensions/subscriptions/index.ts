/**
 * Event subscriptions: `defineSubscription` for plugins and embedding programs, and the kind
 * object the plugin loader uses to recognise and install them.
 */
import { isSubscription, type Subscription } from "./define.js";
import type { SubscriptionService } from "./service.js";

export {
  type BackoffSettings,
  type DeliveryContext,
  defineSubscription,
  isSubscription,
  SUBSCRIPTION_BRAND,
  type Subscription,
  type SubscriptionDefinition,
  SubscriptionDefinitionError,
} from "./define.js";
export type { SubscriptionService, SubscriptionSummary } from "./service.js";
export type { DeadLetter } from "./store.js";

/**
 * The extension kind of subscriptions: a plugin file's exports made by `defineSubscription`
 * are recognised by their brand and installed as that file's subscriptions (replacing what the
 * file installed before, so a reloaded file updates them and an emptied one removes them).
 */
export const subscriptionKind = {
  kind: "subscription",
  recognise: isSubscription,
  install: (values: readonly Subscription[], ctx: { subscriptions: SubscriptionService; source: string }) =>
    ctx.subscriptions.install(ctx.source, values),
} as const;
