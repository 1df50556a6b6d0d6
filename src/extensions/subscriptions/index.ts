/**
 * Event subscriptions: `defineSubscription` for plugins and embedding programs (the plugin
 * loader's kind is plugins/subscription-kind.ts).
 */

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
