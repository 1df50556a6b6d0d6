import { join } from "node:path";
import { type Config, databaseChoice } from "./config.js";
import type { ServerServices } from "./core/context.js";
import { Dispatcher } from "./core/dispatch.js";
import type { AnyHandler } from "./core/handler.js";
import { createLogger, type Logger } from "./core/logger.js";
import { CallStats } from "./core/metrics.js";
import { Registry } from "./core/registry.js";
import { Coordinator } from "./domain/cluster/coordinator.js";
import { Leadership } from "./domain/cluster/leadership.js";
import { Membership } from "./domain/cluster/membership.js";
import { InstanceRegistry } from "./domain/instances/registry.js";
import { ProjectPolicies } from "./domain/policy/policy-file.js";
import { DEFAULT_QUEUE_SETTINGS, TaskQueue } from "./domain/tasks/queue.js";
import { builtinHandlers } from "./handlers/index.js";
import { lockDataDir } from "./storage/data-dir-lock.js";
import { openDatabase } from "./storage/db/database.js";
import { EventPersister } from "./storage/db/persister.js";
import { type EmbeddedRedis, startEmbeddedRedis } from "./storage/embedded-redis.js";
import { EventLog } from "./storage/event-log.js";
import { createKeys } from "./storage/keys.js";
import { connectRedis } from "./storage/redis.js";
import { EventTail } from "./transports/event-tail.js";
import { HttpTransport } from "./transports/http.js";
import { McpEndpoint } from "./transports/mcp.js";
import { RedisRequestConsumer } from "./transports/redis-requests.js";
import { VERSION } from "./version.js";

/**
 * The composition root: config → Redis (embedded or external) → database → registry →
 * dispatcher → transports. Everything it starts it also stops, in reverse order.
 */

export interface StartOptions {
  /** The handlers to serve; the built-ins by default. */
  handlers?: readonly AnyHandler[];
  log?: Logger;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly instanceId: string;
  readonly redisUrl: string;
  /** The private redis-server, when this process owns one. */
  readonly embeddedRedis: EmbeddedRedis | null;
  readonly database: string;
  readonly dispatcher: Dispatcher;
  close(): Promise<void>;
}

type Closer = () => Promise<void> | void;

export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const log = options.log ?? createLogger(config.logLevel, { instanceId: config.instanceId });
  const closers: Closer[] = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (err) {
        log.warn({ err }, "error while shutting down");
      }
    }
  };
  try {
    const registry = new Registry(options.handlers ?? builtinHandlers);

    const databaseTarget = databaseChoice(config);
    let embeddedRedis: EmbeddedRedis | null = null;
    if (!config.redisUrl || databaseTarget.kind === "pglite") {
      // One owner per data directory: a private redis-server's AOF and PGlite both need it.
      const lock = lockDataDir(config.dataDir);
      closers.push(() => lock.release());
    }
    if (!config.redisUrl) {
      embeddedRedis = await startEmbeddedRedis({ dataDir: join(config.dataDir, "redis"), log });
      closers.push(() => embeddedRedis?.stop());
    }
    const redisUrl = config.redisUrl ?? (embeddedRedis as EmbeddedRedis).url;
    const redis = await connectRedis(redisUrl, `claudebench:${config.instanceId}`);
    closers.push(async () => {
      await redis.quit();
    });

    const database = databaseTarget.kind === "none" ? null : await openDatabase(databaseTarget);
    if (database) closers.push(() => database.close());

    const keys = createKeys(config.keyPrefix);
    const eventLog = new EventLog(redis, keys, config.instanceId, config.eventStreamMaxLen);
    const tasks = new TaskQueue(redis, keys, config.instanceId, config.eventStreamMaxLen, {
      ...DEFAULT_QUEUE_SETTINGS,
      leaseMs: config.leaseMs,
      maxQueued: config.queueMax,
      backoffBaseMs: config.backoffBaseMs,
      backoffMaxMs: config.backoffMaxMs,
    });
    await tasks.scripts.load();
    const instances = new InstanceRegistry(redis, keys.queue, tasks.scripts, config.heartbeatTimeoutMs);
    const leadership = new Leadership(tasks.scripts, keys.queue, config.instanceId, config.leaderTermMs);
    let coordinator: Coordinator | null = null;
    let membership: Membership | null = null;
    const services: ServerServices = {
      redis,
      keys,
      log,
      instanceId: config.instanceId,
      version: VERSION,
      startedAt: Date.now(),
      emit: eventLog.emit,
      registry,
      stats: new CallStats(),
      database,
      tasks,
      archive: database,
      instances,
      policies: new ProjectPolicies(config.policyFile, (message) => log.error(message)),
      cluster: {
        view: () => coordinator?.view ?? { members: 1, healthy: 1, partitioned: false, peers: [] },
        leadership: () => leadership.state,
        servers: async () => (membership ? membership.describe() : []),
      },
    };
    const dispatcher = new Dispatcher(services);

    if (database) {
      const persister = new EventPersister(redis, keys, database, config.instanceId, log);
      await persister.start();
      closers.push(() => persister.stop());
    }

    const tail = new EventTail(redis, keys, log);
    closers.push(() => tail.close());
    const consumer = new RedisRequestConsumer(
      redis,
      keys,
      dispatcher,
      config.instanceId,
      log,
      config.requestClaimIdleMs,
    );
    await consumer.start();
    closers.push(() => consumer.stop());

    const http = new HttpTransport({
      dispatcher,
      mcp: new McpEndpoint(dispatcher, VERSION),
      tail,
      authToken: config.authToken,
      maxBodyBytes: config.maxBodyBytes,
      log,
      version: VERSION,
    });
    const address = await http.listen(config.port, config.host);
    closers.push(() => http.close(config.shutdownTimeoutMs));

    const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
    const url = `http://${host}:${address.port}`;
    membership = new Membership(redis, keys.queue, config.instanceId, url, config.membershipTtlMs);
    coordinator = new Coordinator(
      {
        redis,
        q: keys.queue,
        scripts: tasks.scripts,
        instances,
        leadership,
        membership,
        tasks,
        stats: services.stats,
        emit: services.emit,
        log,
        details: () => ({ version: VERSION, startedAt: services.startedAt, pid: process.pid }),
      },
      {
        tickMs: config.maintenanceIntervalMs,
        gossipMs: config.gossipIntervalMs,
        metricsMs: config.metricsPublishMs,
        retentionMs: config.taskRetentionHours * 3_600_000,
        leaseMs: config.leaseMs,
      },
    );
    coordinator.start();
    const started = coordinator;
    closers.push(() => started.stop());
    let closing: Promise<void> | undefined;
    return {
      url,
      port: address.port,
      instanceId: config.instanceId,
      redisUrl,
      embeddedRedis,
      database:
        databaseTarget.kind === "postgres"
          ? `PostgreSQL ${databaseTarget.url.replace(/\/\/[^@/]*@/, "//***@")} (DATABASE_URL)`
          : databaseTarget.kind === "pglite"
            ? `PGlite in ${databaseTarget.dir}`
            : `none: ${databaseTarget.reason}`,
      dispatcher,
      close: () => {
        closing ??= closeAll();
        return closing;
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
