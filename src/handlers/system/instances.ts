import { z } from "zod";
import { defineHandler } from "../../services.js";
import { instance } from "./schemas.js";

export const systemInstances = defineHandler({
  name: "system.instances",
  description:
    "Lists the registered instances (agents, workers, sessions) with status, roles, load against maxTasks and last heartbeat; failed and unregistered ones stay listed for an hour.",
  input: z.object({
    status: z.enum(["active", "failed", "unregistered"]).optional(),
    role: z.string().optional(),
  }),
  output: z.object({ instances: z.array(instance), leaderServerId: z.string().nullable() }),
  expose: { mcp: { annotations: { readOnlyHint: true, idempotentHint: true } } },
  handle: async (input, ctx) => {
    const all = await ctx.instances.list();
    return {
      instances: all.filter(
        (i) => (!input.status || i.status === input.status) && (!input.role || i.roles.includes(input.role)),
      ),
      leaderServerId: ctx.cluster.leadership().leaderId,
    };
  },
});
