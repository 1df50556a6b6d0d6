import { z } from "zod";
import { HANDLER_NAME } from "../../core/naming.js";
import { SUBSCRIPTION_NAME } from "../subscriptions/define.js";

/**
 * A workflow file (JSON): when an event matches, call a method with parameters taken from the
 * event. One workflow per file, or an array of them. See docs/extending.md.
 */

const path = z
  .string()
  .regex(/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/, "a dotted field path like payload.sessionId");
const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** A value (equals), or one operator: eq, ne, in, exists. */
export const condition = z.union([
  scalar,
  z.strictObject({ eq: z.unknown() }),
  z.strictObject({ ne: z.unknown() }),
  z.strictObject({ in: z.array(z.unknown()).min(1) }),
  z.strictObject({ exists: z.boolean() }),
]);

export type Condition = z.infer<typeof condition>;

const workflowSchema = z.strictObject({
  name: z.string().regex(SUBSCRIPTION_NAME, "1-64 of a-z 0-9 _ - (starting with a letter or digit)"),
  description: z.string().max(2000).optional(),
  enabled: z.boolean().default(true),
  /** Event names; `*` matches any run of characters. */
  on: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  /** Every condition must hold; keys are field paths into the event (`payload.tool`). */
  where: z.record(path, condition).default({}),
  call: z.strictObject({
    method: z.string().regex(HANDLER_NAME, "a handler name like session.notify"),
    /** JSON with `{{path}}` templates: payload.*, event, id, name, delivery.id, delivery.attempt. */
    params: z.unknown().default({}),
  }),
  /** Events with the same value here are handled in order, one at a time. */
  partitionKey: path.optional(),
  partitions: z.number().int().min(1).max(256).optional(),
  /** Only the cluster's leader runs it. */
  leaderOnly: z.boolean().default(false),
  /** At most `max` calls per `windowMs` across the cluster; events beyond it are skipped. */
  rateLimit: z.strictObject({ max: z.number().int().min(1), windowMs: z.number().int().min(1) }).optional(),
  maxAttempts: z.number().int().min(1).max(100).optional(),
  backoff: z.strictObject({ baseMs: z.number().int().min(0), maxMs: z.number().int().min(0) }).optional(),
});

export type Workflow = z.infer<typeof workflowSchema>;

export const workflowFile = z.union([workflowSchema, z.array(workflowSchema).min(1)]);
