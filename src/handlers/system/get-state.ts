import { z } from "zod";
import { defineHandler } from "../../core/handler.js";
import { TASK_STATUSES } from "../../domain/tasks/model.js";
import { parseEventEntry } from "../../storage/event-log.js";
import { instance } from "./schemas.js";

export const systemGetState = defineHandler({
  name: "system.get_state",
  description:
    "A snapshot of the cluster: registered instances, task counts by status, the server processes with the leader and partition flags, and the most recent events.",
  input: z.object({ events: z.number().int().min(0).max(1000).default(50) }).loose(),
  output: z.object({
    instances: z.array(instance),
    tasks: z.array(z.object({ status: z.string(), count: z.number() })),
    taskCounts: z.record(z.string(), z.number()),
    servers: z.array(z.record(z.string(), z.unknown())),
    leader: z.object({ serverId: z.string().nullable(), epoch: z.number() }),
    recentEvents: z.array(
      z.object({
        id: z.string(),
        event: z.string(),
        source: z.string(),
        ts: z.number(),
        payload: z.unknown(),
      }),
    ),
  }),
  expose: { mcp: { annotations: { readOnlyHint: true, idempotentHint: true } } },
  handle: async (input, ctx) => {
    const q = ctx.keys.coordination;
    const [instances, counts, servers, raw] = await Promise.all([
      ctx.instances.list(),
      Promise.all(TASK_STATUSES.map((s) => ctx.redis.zcard(q.status(s)))),
      ctx.cluster.servers(),
      input.events > 0 ? ctx.redis.xrevrange(ctx.keys.events(), "+", "-", "COUNT", input.events) : [],
    ]);
    const leadership = ctx.cluster.leadership();
    const taskCounts = Object.fromEntries(TASK_STATUSES.map((s, i) => [s, counts[i] ?? 0]));
    return {
      instances,
      tasks: TASK_STATUSES.map((status, i) => ({ status, count: counts[i] ?? 0 })),
      taskCounts,
      servers: servers.map((s) => ({
        ...s,
        view: s.view ? JSON.parse(s.view) : [],
        leader: s.id === leadership.leaderId,
      })),
      leader: { serverId: leadership.leaderId, epoch: leadership.epoch },
      recentEvents: (raw as [string, string[]][]).flatMap((entry) => parseEventEntry(entry) ?? []),
    };
  },
});
