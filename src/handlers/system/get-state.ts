import { z } from "zod";
import { TASK_STATUSES } from "../../contract/tasks.js";
import { clusterSnapshot } from "../../domain/coordination/cluster-snapshot.js";
import { defineHandler } from "../../services.js";
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
    const [instances, snapshot, recentEvents] = await Promise.all([
      ctx.instances.list(),
      clusterSnapshot(ctx.tasks, ctx.cluster),
      ctx.eventLog.recent(input.events),
    ]);
    const leadership = ctx.cluster.leadership();
    const { tasksByStatus, servers } = snapshot;
    return {
      instances,
      tasks: TASK_STATUSES.map((status) => ({ status, count: tasksByStatus[status] })),
      taskCounts: tasksByStatus,
      servers,
      leader: { serverId: leadership.leaderId, epoch: leadership.epoch },
      recentEvents,
    };
  },
});
