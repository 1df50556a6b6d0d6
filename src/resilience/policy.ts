import { z } from "zod";
import type { AnyHandler } from "../core/handler.js";
import { handlerPolicySchema, type PolicyOverride } from "../core/handler-policy.js";

/**
 * The policy each handler runs under: the server-wide defaults from config, then what the
 * handler declares, then the per-handler overrides from config (HANDLER_POLICIES). The
 * middleware reads only the resolved `EffectivePolicy`, computed once at start-up.
 */

export interface RateLimitSettings {
  /** Calls admitted per actor within any window of `windowMs`. */
  limit: number;
  windowMs: number;
}

export interface BreakerSettings {
  /** Opens when failures / calls within `windowMs` reach this ratio (0..1)... */
  failureRatio: number;
  /** ...and at least this many calls were made in the window. */
  minCalls: number;
  windowMs: number;
  /** How long it stays open before letting probe calls through (half-open). */
  openMs: number;
  /** Calls let through at once while half-open. */
  halfOpenProbes: number;
}

export interface EffectivePolicy {
  /** 0: no timeout. */
  timeoutMs: number;
  rateLimit: RateLimitSettings | null;
  breaker: BreakerSettings | null;
  cache: { ttlMs: number } | null;
  /** 0: unlimited. */
  concurrency: number;
  /** Methods whose cached results a successful call of this one makes stale. */
  invalidates: readonly string[];
}

/** `HANDLER_POLICIES`: `{ "<method>": PolicyOverride, ... }`. */
export const handlerPoliciesSchema = z.record(
  z.string().regex(/^[a-z][a-z0-9_]*\.[a-z0-9_.]+$/),
  handlerPolicySchema,
);

export interface PolicyDefaults {
  timeoutMs: number;
  /** null: no rate limit unless a handler or an override sets one. */
  rateLimit: RateLimitSettings | null;
  /** null: no breakers unless a handler or an override enables one. */
  breaker: BreakerSettings | null;
  /** Breaker settings a handler's partial breaker declaration is completed from. */
  breakerBase: BreakerSettings;
}

function merge(
  defaults: PolicyDefaults,
  current: EffectivePolicy,
  layer: PolicyOverride | undefined,
): EffectivePolicy {
  if (!layer) return current;
  const breaker =
    layer.breaker === undefined
      ? current.breaker
      : layer.breaker === false
        ? null
        : { ...(current.breaker ?? defaults.breakerBase), ...layer.breaker };
  return {
    timeoutMs: layer.timeoutMs ?? current.timeoutMs,
    rateLimit: layer.rateLimit === undefined ? current.rateLimit : layer.rateLimit || null,
    breaker,
    cache: layer.cache === undefined ? current.cache : layer.cache || null,
    concurrency: layer.concurrency ?? current.concurrency,
    invalidates: layer.invalidates ?? current.invalidates,
  };
}

/**
 * The overrides that name one of `handlers`. HANDLER_POLICIES may name a plugin handler that
 * is not loaded yet, or no longer: the start-up check (resolvePolicies with every override)
 * refuses an unknown name once every plugin has loaded; a later reload only applies what fits.
 */
export function overridesFor(
  handlers: readonly AnyHandler[],
  overrides: Record<string, PolicyOverride>,
): Record<string, PolicyOverride> {
  const picked: Record<string, PolicyOverride> = {};
  for (const { name } of handlers) {
    const override = overrides[name];
    if (override) picked[name] = override;
  }
  return picked;
}

/** The policy of every handler: defaults ← the handler's declaration ← the override for its name. */
export function resolvePolicies(
  handlers: readonly AnyHandler[],
  defaults: PolicyDefaults,
  overrides: Record<string, PolicyOverride> = {},
): Map<string, EffectivePolicy> {
  const base: EffectivePolicy = {
    timeoutMs: defaults.timeoutMs,
    rateLimit: defaults.rateLimit,
    breaker: defaults.breaker,
    cache: null,
    concurrency: 0,
    invalidates: [],
  };
  const known = new Set(handlers.map((h) => h.name));
  for (const name of Object.keys(overrides)) {
    if (!known.has(name)) throw new Error(`HANDLER_POLICIES names ${name}, which is not a served method`);
  }
  const resolved = new Map(
    handlers.map((h) => {
      const declared = handlerPolicySchema.safeParse(h.policy);
      if (!declared.success)
        throw new Error(`${h.name} declares an invalid policy: ${declared.error.message}`);
      return [h.name, merge(defaults, merge(defaults, base, declared.data), overrides[h.name])];
    }),
  );
  for (const [name, policy] of resolved) {
    const unknown = policy.invalidates.filter((m) => !resolved.get(m)?.cache);
    if (unknown.length) throw new Error(`${name} invalidates ${unknown.join(", ")}, which has no cache`);
  }
  return resolved;
}
