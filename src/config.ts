import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { z } from "zod";
import { blankToUndefined, ConfigError, commaList } from "./client-config.js";
import { handlerPoliciesSchema, type PolicyDefaults } from "./resilience/policy.js";

/**
 * The server's only reader of process.env. Every setting comes from a CLI flag, else an
 * environment variable, else a default, and is validated here once so the rest of the server
 * receives a typed, trusted `Config`. The client commands' few settings are read in
 * src/client-config.ts, without Zod, so that they start fast.
 */

export { ConfigError };

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "::1"]);

/** A switch: on/off, true/false or 1/0. */
const onOff = z
  .enum(["on", "off", "true", "false", "1", "0"])
  .transform((v) => v === "on" || v === "true" || v === "1");

const list = z.string().transform(commaList);

const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const configSchema = z
  .object({
    port: z.coerce.number().int().min(0).max(65535),
    host: z.string().min(1),
    redisUrl: z
      .string()
      .regex(/^rediss?:\/\//, "must start with redis:// or rediss://")
      .optional(),
    databaseUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\//, "must start with postgres:// or postgresql://")
      .optional(),
    dbMode: z.enum(["auto", "pglite", "none"]),
    dataDir: z.string().min(1),
    // Visible ASCII only: a token is sent in a header, where spaces would be trimmed away.
    authToken: z
      .string()
      .regex(/^[\x21-\x7e]*$/, "must be visible ASCII characters without spaces")
      .min(16, "must be at least 16 characters")
      .optional(),
    allowedHosts: list,
    allowedOrigins: list,
    instanceId: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, "use letters, digits and . _ : - (max 128)"),
    logLevel: z.enum(logLevels),
    keyPrefix: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, "use letters, digits, _ and - (max 32)"),
    shutdownTimeoutMs: z.coerce.number().int().min(0).max(600_000),
    maxBodyBytes: z.coerce
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024),
    eventStreamMaxLen: z.coerce.number().int().min(100),
    eventClientBufferBytes: z.coerce
      .number()
      .int()
      .min(64 * 1024),
    eventClientsMax: z.coerce.number().int().min(1),
    eventBuffersTotalBytes: z.coerce
      .number()
      .int()
      .min(64 * 1024),
    rpcBatchMax: z.coerce.number().int().min(1).max(10_000),
    auditStreamMaxLen: z.coerce.number().int().min(100),
    leaseMs: z.coerce.number().int().min(1000).max(3_600_000),
    queueMax: z.coerce.number().int().min(0),
    backoffBaseMs: z.coerce.number().int().min(0),
    backoffMaxMs: z.coerce.number().int().min(0),
    maintenanceIntervalMs: z.coerce.number().int().min(50).max(60_000),
    taskRetentionHours: z.coerce.number().min(0),
    heartbeatTimeoutMs: z.coerce.number().int().min(300),
    leaderTermMs: z.coerce.number().int().min(200),
    gossipIntervalMs: z.coerce.number().int().min(100),
    membershipTtlMs: z.coerce.number().int().min(1000),
    metricsPublishMs: z.coerce.number().int().min(100),
    requestClaimIdleMs: z.coerce.number().int().min(100),
    policyFile: z.string().min(1),
    handlerTimeoutMs: z.coerce.number().int().min(0),
    rateLimitMax: z.coerce.number().int().min(0),
    rateLimitWindowMs: z.coerce.number().int().min(1),
    breakerEnabled: onOff,
    breakerFailureRatio: z.coerce.number().gt(0).max(1),
    breakerMinCalls: z.coerce.number().int().min(1),
    breakerWindowMs: z.coerce.number().int().min(100),
    breakerOpenMs: z.coerce.number().int().min(1),
    breakerHalfOpenProbes: z.coerce.number().int().min(1),
    handlerPolicies: z
      .string()
      .transform((text, ctx) => {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          ctx.addIssue({ code: "custom", message: "must be a JSON object" });
          return z.NEVER;
        }
      })
      .pipe(handlerPoliciesSchema),
    diagnostics: onOff,
    workflowsDir: z.string().min(1),
    subscriptionClaimIdleMs: z.coerce.number().int().min(300).max(3_600_000),
    subscriptionConcurrency: z.coerce.number().int().min(1).max(1000),
    pluginsDir: z.string().min(1),
    /** PLUGINS_DIR or --plugins named it: then it must exist. */
    pluginsDirRequired: z.boolean(),
    watchPlugins: onOff,
    mcpSessionIdleMs: z.coerce.number().int().min(1000),
    mcpMaxSessions: z.coerce.number().int().min(1),
  })
  .superRefine((c, ctx) => {
    if (!LOOPBACK_HOSTS.has(c.host) && !c.authToken) {
      ctx.addIssue({
        code: "custom",
        path: ["host"],
        message: `binding to ${c.host} (not loopback) requires AUTH_TOKEN (or --auth-token) so that clients must authenticate`,
      });
    }
  });

export type Config = z.infer<typeof configSchema>;

/** Overrides given on the command line; they win over the environment. */
export type ConfigFlags = Partial<{
  port: string | number;
  host: string;
  redisUrl: string;
  databaseUrl: string;
  db: string;
  dataDir: string;
  authToken: string;
  authTokenFile: string;
  instanceId: string;
  logLevel: string;
  keyPrefix: string;
  diagnostics: boolean;
  workflows: string;
  plugins: string;
  watch: boolean;
}>;

/** Maps each config field to the environment variable that sets it, for error messages. */
const ENV_NAMES: Record<string, string> = {
  port: "PORT",
  host: "HOST",
  redisUrl: "REDIS_URL",
  databaseUrl: "DATABASE_URL",
  dbMode: "DB_MODE",
  dataDir: "DATA_DIR",
  authToken: "AUTH_TOKEN",
  allowedHosts: "ALLOWED_HOSTS",
  allowedOrigins: "ALLOWED_ORIGINS",
  instanceId: "INSTANCE_ID",
  logLevel: "LOG_LEVEL",
  keyPrefix: "KEY_PREFIX",
  shutdownTimeoutMs: "SHUTDOWN_TIMEOUT_MS",
  maxBodyBytes: "MAX_BODY_BYTES",
  eventStreamMaxLen: "EVENT_STREAM_MAXLEN",
  eventClientBufferBytes: "EVENT_CLIENT_BUFFER_BYTES",
  eventClientsMax: "EVENT_CLIENTS_MAX",
  eventBuffersTotalBytes: "EVENT_BUFFERS_TOTAL_BYTES",
  rpcBatchMax: "RPC_BATCH_MAX",
  auditStreamMaxLen: "AUDIT_STREAM_MAXLEN",
  leaseMs: "LEASE_MS",
  queueMax: "QUEUE_MAX",
  backoffBaseMs: "BACKOFF_BASE_MS",
  backoffMaxMs: "BACKOFF_MAX_MS",
  maintenanceIntervalMs: "MAINTENANCE_INTERVAL_MS",
  taskRetentionHours: "TASK_RETENTION_HOURS",
  heartbeatTimeoutMs: "HEARTBEAT_TIMEOUT_MS",
  leaderTermMs: "LEADER_TERM_MS",
  gossipIntervalMs: "GOSSIP_INTERVAL_MS",
  membershipTtlMs: "MEMBERSHIP_TTL_MS",
  metricsPublishMs: "METRICS_PUBLISH_MS",
  requestClaimIdleMs: "REQUEST_CLAIM_IDLE_MS",
  policyFile: "POLICY_FILE",
  handlerTimeoutMs: "HANDLER_TIMEOUT_MS",
  rateLimitMax: "RATE_LIMIT_MAX",
  rateLimitWindowMs: "RATE_LIMIT_WINDOW_MS",
  breakerEnabled: "BREAKER",
  breakerFailureRatio: "BREAKER_FAILURE_RATIO",
  breakerMinCalls: "BREAKER_MIN_CALLS",
  breakerWindowMs: "BREAKER_WINDOW_MS",
  breakerOpenMs: "BREAKER_OPEN_MS",
  breakerHalfOpenProbes: "BREAKER_HALF_OPEN_PROBES",
  handlerPolicies: "HANDLER_POLICIES",
  diagnostics: "DIAGNOSTICS",
  workflowsDir: "WORKFLOWS_DIR",
  subscriptionClaimIdleMs: "SUBSCRIPTION_CLAIM_IDLE_MS",
  subscriptionConcurrency: "SUBSCRIPTION_CONCURRENCY",
  pluginsDir: "PLUGINS_DIR",
  watchPlugins: "WATCH_PLUGINS",
  mcpSessionIdleMs: "MCP_SESSION_IDLE_MS",
  mcpMaxSessions: "MCP_MAX_SESSIONS",
};

/**
 * The auth token: --auth-token, else AUTH_TOKEN, else the first line of --auth-token-file /
 * AUTH_TOKEN_FILE (a file keeps it out of `ps` and of the environment of child processes).
 */
function authToken(flags: ConfigFlags, env: NodeJS.ProcessEnv): string | undefined {
  const direct = flags.authToken ?? blankToUndefined(env.AUTH_TOKEN);
  const file = flags.authTokenFile ?? blankToUndefined(env.AUTH_TOKEN_FILE);
  if (direct !== undefined && file !== undefined) {
    throw new ConfigError(["authToken: give the token or a token file (AUTH_TOKEN_FILE), not both"]);
  }
  if (file === undefined) return direct;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError([
      `authTokenFile (AUTH_TOKEN_FILE) = ${JSON.stringify(file)}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    ]);
  }
  return text.split(/\r?\n/, 1)[0]?.trim() ?? "";
}

export function loadConfig(flags: ConfigFlags = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const pick = (flag: string | number | undefined, name: string) =>
    flag !== undefined ? String(flag) : blankToUndefined(env[name]);
  const pluginsDir = pick(flags.plugins, "PLUGINS_DIR");
  const raw = {
    port: pick(flags.port, "PORT") ?? "3000",
    host: pick(flags.host, "HOST") ?? "127.0.0.1",
    redisUrl: pick(flags.redisUrl, "REDIS_URL"),
    databaseUrl: pick(flags.databaseUrl, "DATABASE_URL"),
    dbMode: pick(flags.db, "DB_MODE") ?? "auto",
    dataDir: resolve(pick(flags.dataDir, "DATA_DIR") ?? ".claudebench"),
    authToken: authToken(flags, env),
    allowedHosts: blankToUndefined(env.ALLOWED_HOSTS) ?? "",
    allowedOrigins: blankToUndefined(env.ALLOWED_ORIGINS) ?? "",
    instanceId: pick(flags.instanceId, "INSTANCE_ID") ?? `srv-${hostname()}-${process.pid}`,
    logLevel: pick(flags.logLevel, "LOG_LEVEL") ?? "info",
    keyPrefix: pick(flags.keyPrefix, "KEY_PREFIX") ?? "cb",
    shutdownTimeoutMs: blankToUndefined(env.SHUTDOWN_TIMEOUT_MS) ?? "10000",
    maxBodyBytes: blankToUndefined(env.MAX_BODY_BYTES) ?? String(1024 * 1024),
    eventStreamMaxLen: blankToUndefined(env.EVENT_STREAM_MAXLEN) ?? "100000",
    eventClientBufferBytes: blankToUndefined(env.EVENT_CLIENT_BUFFER_BYTES) ?? String(8 * 1024 * 1024),
    eventClientsMax: blankToUndefined(env.EVENT_CLIENTS_MAX) ?? "1000",
    eventBuffersTotalBytes: blankToUndefined(env.EVENT_BUFFERS_TOTAL_BYTES) ?? String(64 * 1024 * 1024),
    rpcBatchMax: blankToUndefined(env.RPC_BATCH_MAX) ?? "100",
    auditStreamMaxLen: blankToUndefined(env.AUDIT_STREAM_MAXLEN) ?? "100000",
    leaseMs: blankToUndefined(env.LEASE_MS) ?? "30000",
    queueMax: blankToUndefined(env.QUEUE_MAX) ?? "0",
    backoffBaseMs: blankToUndefined(env.BACKOFF_BASE_MS) ?? "1000",
    backoffMaxMs: blankToUndefined(env.BACKOFF_MAX_MS) ?? "300000",
    maintenanceIntervalMs: blankToUndefined(env.MAINTENANCE_INTERVAL_MS) ?? "1000",
    taskRetentionHours: blankToUndefined(env.TASK_RETENTION_HOURS) ?? "168",
    heartbeatTimeoutMs: blankToUndefined(env.HEARTBEAT_TIMEOUT_MS) ?? "30000",
    leaderTermMs: blankToUndefined(env.LEADER_TERM_MS) ?? "2000",
    gossipIntervalMs: blankToUndefined(env.GOSSIP_INTERVAL_MS) ?? "2000",
    membershipTtlMs: blankToUndefined(env.MEMBERSHIP_TTL_MS) ?? "60000",
    metricsPublishMs: blankToUndefined(env.METRICS_PUBLISH_MS) ?? "5000",
    requestClaimIdleMs: blankToUndefined(env.REQUEST_CLAIM_IDLE_MS) ?? "30000",
    policyFile: resolve(blankToUndefined(env.POLICY_FILE) ?? ".claudebench/policy.json"),
    handlerTimeoutMs: blankToUndefined(env.HANDLER_TIMEOUT_MS) ?? "30000",
    rateLimitMax: blankToUndefined(env.RATE_LIMIT_MAX) ?? "0",
    rateLimitWindowMs: blankToUndefined(env.RATE_LIMIT_WINDOW_MS) ?? "60000",
    breakerEnabled: blankToUndefined(env.BREAKER) ?? "on",
    breakerFailureRatio: blankToUndefined(env.BREAKER_FAILURE_RATIO) ?? "0.5",
    breakerMinCalls: blankToUndefined(env.BREAKER_MIN_CALLS) ?? "20",
    breakerWindowMs: blankToUndefined(env.BREAKER_WINDOW_MS) ?? "30000",
    breakerOpenMs: blankToUndefined(env.BREAKER_OPEN_MS) ?? "10000",
    breakerHalfOpenProbes: blankToUndefined(env.BREAKER_HALF_OPEN_PROBES) ?? "1",
    handlerPolicies: blankToUndefined(env.HANDLER_POLICIES) ?? "{}",
    diagnostics: pick(flags.diagnostics ? "on" : undefined, "DIAGNOSTICS") ?? "off",
    workflowsDir: resolve(pick(flags.workflows, "WORKFLOWS_DIR") ?? ".claudebench/workflows"),
    subscriptionClaimIdleMs: blankToUndefined(env.SUBSCRIPTION_CLAIM_IDLE_MS) ?? "30000",
    subscriptionConcurrency: blankToUndefined(env.SUBSCRIPTION_CONCURRENCY) ?? "16",
    pluginsDir: resolve(pluginsDir ?? ".claudebench/plugins"),
    pluginsDirRequired: pluginsDir !== undefined,
    watchPlugins: pick(flags.watch ? "on" : undefined, "WATCH_PLUGINS") ?? "off",
    mcpSessionIdleMs: blankToUndefined(env.MCP_SESSION_IDLE_MS) ?? "1800000",
    mcpMaxSessions: blankToUndefined(env.MCP_MAX_SESSIONS) ?? "1000",
  };
  const parsed = configSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((issue) => {
      const field = String(issue.path[0] ?? "config");
      const env = ENV_NAMES[field];
      const shown = field === "authToken" ? "(hidden)" : JSON.stringify(raw[field as keyof typeof raw]);
      return `${field}${env ? ` (${env})` : ""} = ${shown}: ${issue.message}`;
    }),
  );
}

type DatabaseChoice =
  | { kind: "postgres"; url: string }
  | { kind: "pglite"; dir: string }
  | { kind: "none"; reason: string };

/**
 * Where the durable record goes. DATABASE_URL → PostgreSQL. Otherwise PGlite in the data
 * directory, but only when this process owns its Redis too (or DB_MODE=pglite): several
 * servers sharing one external Redis must share one database, and a private PGlite each
 * would split the history.
 */
export function databaseChoice(config: Config): DatabaseChoice {
  if (config.dbMode === "none") return { kind: "none", reason: "--no-db" };
  if (config.databaseUrl) return { kind: "postgres", url: config.databaseUrl };
  if (config.dbMode === "pglite" || !config.redisUrl)
    return { kind: "pglite", dir: resolve(config.dataDir, "pglite") };
  return {
    kind: "none",
    reason: "shared REDIS_URL without DATABASE_URL (set DATABASE_URL, or --db pglite for this process alone)",
  };
}

/** The server-wide resilience defaults every handler's policy starts from. */
export function policyDefaults(config: Config): PolicyDefaults {
  const breakerBase = {
    failureRatio: config.breakerFailureRatio,
    minCalls: config.breakerMinCalls,
    windowMs: config.breakerWindowMs,
    openMs: config.breakerOpenMs,
    halfOpenProbes: config.breakerHalfOpenProbes,
  };
  return {
    timeoutMs: config.handlerTimeoutMs,
    rateLimit:
      config.rateLimitMax > 0 ? { limit: config.rateLimitMax, windowMs: config.rateLimitWindowMs } : null,
    breaker: config.breakerEnabled ? breakerBase : null,
    breakerBase,
  };
}

/** Whether the configured host only accepts connections from this machine. */
export const isLoopback = (host: string) => LOOPBACK_HOSTS.has(host);
