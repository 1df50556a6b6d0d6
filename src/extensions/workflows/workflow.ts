import { AppError } from "../../core/errors.js";
import type { RateLimiter } from "../../resilience/rate-limiter.js";
import { defineSubscription, type Subscription } from "../subscriptions/define.js";
import type { Workflow } from "./schema.js";
import { compileWhere, render, templateScope } from "./template.js";

/**
 * A workflow runs as a subscription named after it, so it gets the same delivery guarantees:
 * once per cluster, retries with backoff, dead letters, per-key order with `partitionKey`. Its
 * call goes through the dispatcher (transport `internal`), so validation and the policy
 * middleware apply as to any caller.
 */
export function workflowSubscription(workflow: Workflow, limiter: RateLimiter): Subscription {
  const { call, rateLimit } = workflow;
  return defineSubscription({
    name: workflow.name,
    events: typeof workflow.on === "string" ? [workflow.on] : workflow.on,
    filter: compileWhere(workflow.where),
    ...(workflow.partitionKey ? { partitionKey: workflow.partitionKey } : {}),
    ...(workflow.partitions ? { partitions: workflow.partitions } : {}),
    ...(workflow.maxAttempts ? { maxAttempts: workflow.maxAttempts } : {}),
    ...(workflow.backoff ? { backoff: workflow.backoff } : {}),
    leaderOnly: workflow.leaderOnly,
    handle: async (event, ctx) => {
      // Counted once per event: a retry is the same event, not one more call to allow.
      if (rateLimit && ctx.attempt === 1) {
        try {
          await limiter.check(`workflow.${workflow.name}`, "workflow", {
            limit: rateLimit.max,
            windowMs: rateLimit.windowMs,
          });
        } catch (err) {
          if (!(err instanceof AppError) || err.code !== "RATE_LIMITED") throw err;
          ctx.log.info({ event: event.event, id: event.id }, "workflow rate limit reached: event skipped");
          return;
        }
      }
      const params = render(call.params, templateScope(event, { id: ctx.deliveryId, attempt: ctx.attempt }));
      await ctx.invoke(call.method, params);
    },
  });
}
