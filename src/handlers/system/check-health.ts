import { z } from "zod";
import { defineHandler } from "../../services.js";

export const systemCheckHealth = defineHandler({
  name: "system.check_health",
  description:
    "Checks every registered instance's heartbeat now: instances silent for longer than timeout ms (never less than the cluster's heartbeat timeout, so an instance heartbeating as system.register asked keeps its tasks) are declared failed and their tasks go back to the queue (reported per instance). Only a server that has led for a whole heartbeat timeout may do this (silence while no leader was there to hear it does not count); others answer with the current state.",
  input: z.object({ timeout: z.number().int().min(100).max(3_600_000).default(10_000) }),
  output: z.object({
    healthy: z.array(z.string()),
    failed: z.array(z.string()),
    reassigned: z.record(z.string(), z.number()),
  }),
  expose: { mcp: { annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false } } },
  handle: async (input, ctx) => {
    // a shorter timeout would fail instances that heartbeat every heartbeatIntervalMs, as told
    const cutoff = Date.now() - Math.max(input.timeout, ctx.instances.heartbeatTimeoutMs);
    const ledLongEnough = ctx.cluster.ledForMs() >= ctx.instances.heartbeatTimeoutMs;
    const token = ledLongEnough ? ctx.cluster.leadership().token : "";
    const failed: string[] = [];
    const reassigned: Record<string, number> = {};
    for (const id of await ctx.instances.stale(cutoff)) {
      const outcome = token ? await ctx.instances.fail(id, cutoff, token) : null;
      if (outcome?.failed) {
        failed.push(id);
        reassigned[id] = outcome.released + outcome.deadLettered;
      }
    }
    const healthy = (await ctx.instances.list()).filter((i) => i.status === "active").map((i) => i.id);
    return { healthy, failed, reassigned };
  },
});
