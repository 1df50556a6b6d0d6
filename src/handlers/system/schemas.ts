import { z } from "zod";
import { KEY_SAFE_ID_HINT, keySafeId } from "../../core/ids.js";

export const emptyInput = z.object({}).loose();

export const pingOutput = z.object({ pong: z.literal(true), instanceId: z.string(), ts: z.number() });

const probe = z.object({ ok: z.boolean(), latencyMs: z.number().optional(), error: z.string().optional() });

export const healthOutput = z.object({
  status: z.enum(["healthy", "degraded", "unhealthy"]),
  /** The original's booleans: is each service usable right now. */
  services: z.object({ redis: z.boolean(), postgres: z.boolean(), mcp: z.boolean() }),
  cluster: z.object({
    serverId: z.string(),
    leader: z.boolean(),
    leaderId: z.string().nullable(),
    epoch: z.number(),
    partitioned: z.boolean(),
    members: z.number(),
    healthyMembers: z.number(),
  }),
  checks: z.object({
    redis: probe,
    database: probe.extend({
      configured: z.boolean(),
      kind: z.enum(["postgres", "pglite"]).optional(),
      /** The embedded store has not answered yet since the server started (not counted as degraded). */
      starting: z.literal(true).optional(),
    }),
  }),
  instanceId: z.string(),
  version: z.string(),
  uptimeSeconds: z.number(),
  timestamp: z.string(),
});

export const discoverInput = z.object({
  domain: z.string().optional().describe("Only methods of this domain (e.g. task)"),
});

export const discoverOutput = z.object({
  methods: z.array(
    z.object({
      name: z.string(),
      description: z.string(),
      inputSchema: z.record(z.string(), z.unknown()),
      outputSchema: z.record(z.string(), z.unknown()),
      metadata: z.object({
        domain: z.string(),
        httpPath: z.string().nullable(),
        mcpTool: z.string().nullable(),
        transports: z.array(z.string()),
        policy: z.record(z.string(), z.unknown()),
        annotations: z.record(z.string(), z.unknown()).nullable(),
        /** `builtin`, or the plugin file that defines it. */
        source: z.string(),
      }),
    }),
  ),
  plugins: z.object({
    dir: z.string().nullable(),
    watching: z.boolean(),
    files: z.array(
      z.object({
        file: z.string(),
        extensions: z.array(z.object({ kind: z.string(), name: z.string() })),
      }),
    ),
    errors: z.array(z.object({ file: z.string(), reason: z.string() })),
  }),
});

export const metricsInput = z.object({
  detailed: z.boolean().optional().describe("Add per-method and per-server figures"),
});

const methodStats = z.object({
  calls: z.number(),
  errors: z.number(),
  errorsByCode: z.record(z.string(), z.number()),
  latency: z.object({
    avgMs: z.number(),
    p50Ms: z.number(),
    p95Ms: z.number(),
    p99Ms: z.number(),
    maxMs: z.number(),
  }),
});

export const metricsOutput = z.object({
  /** Calls the dispatch pipelines of all live server processes handled (the original's name). */
  eventsProcessed: z.number(),
  errors: z.number(),
  /** Mean call latency in ms over all methods. */
  averageLatency: z.number(),
  tasksCompleted: z.number(),
  tasksByStatus: z.record(z.string(), z.number()),
  /** Mean task completions per minute over the last 5 whole minutes. */
  completionsPerMinute: z.number(),
  /** Server processes whose figures are included. */
  serverProcesses: z.number(),
  /** Heap in use, bytes (the original's field is one number). */
  memoryUsage: z.number(),
  memory: z.object({ rss: z.number(), heapUsed: z.number(), heapTotal: z.number(), external: z.number() }),
  uptimeSeconds: z.number(),
  instanceId: z.string(),
  methods: z.record(z.string(), methodStats).optional(),
  servers: z
    .array(
      z.object({ serverId: z.string(), calls: z.number(), errors: z.number(), averageLatency: z.number() }),
    )
    .optional(),
});

export const instanceId = z
  .string()
  .regex(keySafeId(), KEY_SAFE_ID_HINT)
  .describe("Id of the instance (agent, worker, session)");

export const instance = z.object({
  id: z.string(),
  roles: z.array(z.string()),
  capabilities: z.array(z.string()),
  maxTasks: z.number(),
  metadata: z.record(z.string(), z.unknown()),
  sessionId: z.string().optional(),
  status: z.enum(["active", "failed", "unregistered"]),
  autoAssign: z.boolean(),
  registeredAt: z.string(),
  lastSeen: z.string(),
  statusText: z.string().optional(),
  load: z.record(z.string(), z.unknown()).optional(),
  activeTasks: z.number(),
  /** Ids of the tasks it holds (up to 100, sorted; activeTasks counts them all). */
  heldTaskIds: z.array(z.string()),
  leader: z.boolean().optional(),
});
