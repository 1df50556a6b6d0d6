import { defineHandler } from "../../services.js";
import { emptyInput, healthOutput } from "./schemas.js";

const PROBE_TIMEOUT_MS = 2000;

async function probe(check: () => Promise<number>) {
  let timer: NodeJS.Timeout | undefined;
  try {
    const latencyMs = await Promise.race([
      check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)),
          PROBE_TIMEOUT_MS,
        );
      }),
    ]);
    return { ok: true, latencyMs: Math.round(latencyMs * 1000) / 1000 };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

export const systemHealth = defineHandler({
  name: "system.health",
  description:
    "Reports whether this server can do its work: Redis PING with latency, the database when one is configured, its place in the cluster (leader, partition flag), uptime and version. status is unhealthy without Redis, degraded without the database (not while the embedded store starts: checks.database.starting) or when partitioned.",
  input: emptyInput,
  output: healthOutput,
  expose: { mcp: { annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false } } },
  handle: async (_input, ctx) => {
    const [redis, database] = await Promise.all([
      probe(() => ctx.storeProbe.ping()),
      ctx.database ? probe(() => (ctx.database as NonNullable<typeof ctx.database>).ping()) : null,
    ]);
    const databaseOk = database?.ok ?? false;
    // An embedded store in its first start is not a fault: the outbox holds the history meanwhile.
    const starting = database !== null && !database.ok && (ctx.database?.starting() ?? false);
    const view = ctx.cluster.view();
    const leadership = ctx.cluster.leadership();
    const status: "healthy" | "degraded" | "unhealthy" = !redis.ok
      ? "unhealthy"
      : (database && !database.ok && !starting) || view.partitioned
        ? "degraded"
        : "healthy";
    return {
      status,
      services: { redis: redis.ok, postgres: databaseOk, mcp: true },
      cluster: {
        serverId: ctx.instanceId,
        leader: leadership.leading,
        leaderId: leadership.leaderId,
        epoch: leadership.epoch,
        partitioned: view.partitioned,
        members: view.members,
        healthyMembers: view.healthy,
      },
      checks: {
        redis,
        database: database
          ? { ...database, configured: true, kind: ctx.database?.kind, ...(starting ? { starting } : {}) }
          : { ok: false, configured: false },
      },
      instanceId: ctx.instanceId,
      version: ctx.version,
      uptimeSeconds: Math.round((Date.now() - ctx.startedAt) / 1000),
      timestamp: new Date().toISOString(),
    };
  },
});
