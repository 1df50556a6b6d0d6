import { z } from "zod";

/**
 * What a handler may declare about how it is run (timeout, rate limit, circuit breaker,
 * cache, concurrency limit, the caches it makes stale), as a layer over the server-wide
 * defaults: `false` turns a default off. HANDLER_POLICIES overrides it per method in the same
 * shape. The kernel only carries the declaration; resilience/policy.ts resolves it and
 * resilience/ enforces it.
 */

const rateLimitSchema = z.strictObject({
  limit: z.number().int().min(1),
  windowMs: z.number().int().min(1),
});

const breakerSchema = z.strictObject({
  failureRatio: z.number().gt(0).max(1),
  minCalls: z.number().int().min(1),
  windowMs: z.number().int().min(100),
  openMs: z.number().int().min(1),
  halfOpenProbes: z.number().int().min(1),
});

export const handlerPolicySchema = z.strictObject({
  timeoutMs: z.number().int().min(0).optional(),
  rateLimit: z.union([rateLimitSchema, z.literal(false)]).optional(),
  breaker: z.union([breakerSchema.partial(), z.literal(false)]).optional(),
  cache: z.union([z.strictObject({ ttlMs: z.number().int().min(1) }), z.literal(false)]).optional(),
  concurrency: z.number().int().min(0).optional(),
  invalidates: z.array(z.string()).optional(),
});

export type PolicyOverride = z.infer<typeof handlerPolicySchema>;
