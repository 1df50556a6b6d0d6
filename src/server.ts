import { join } from "node:path";
import type { Redis } from "ioredis";
import { type Config, databaseChoice, policyDefaults } from "./config.js";
import { Dispatcher } from "./core/dispatch.js";
import { AppError } from "./core/errors.js";
import type { AnyHandler } from "./core/handler.js";
import { createLogger, LogFilter, type Logger } from "./core/logger.js";
import { CallStats } from "./core/metrics.js";
import { Registry } from "./core/registry.js";
import { serveDashboard } from "./dashboard/static.js";
import { AuditStream } from "./domain/audit/stream.js";
import { Coordination } from "./domain/coordination/coordination.js";
import { Coordinator } from "./domain/coordination/coordinator.js";
import { sessionInstanceId } from "./domain/coordination/identity.js";
import { InstanceRegistry } from "./domain/coordination/instances.js";
import { Leadership } from "./domain/coordination/leadership.js";
import { Membership } from "./domain/coordination/membership.js";
import { EventLog } from "./domain/events/event-log.js";
import { EventTail } from "./domain/events/event-tail.js";
import { openDatabase } from "./domain/history/open-database.js";
import { persistOutboxes } from "./domain/history/outboxes.js";
import { ProjectPolicies } from "./domain/policy/policy-file.js";
import { SessionStore } from "./domain/sessions/session-store.js";
import { DEFAULT_QUEUE_SETTINGS, TaskQueue } from "./domain/tasks/queue.js";
import { QueueSampler } from "./domain/tasks/queue-sampler.js";
import { builtinLinks } from "./extensions/hook-links/builtin-links.js";
import { HookChains } from "./extensions/hook-links/chain.js";
import type { HookLink } from "./extensions/hook-links/link.js";
import { handlerKind } from "./extensions/plugins/handler-kind.js";
import { hookLinkKind } from "./extensions/plugins/hook-link-kind.js";
import { PluginHost } from "./extensions/plugins/plugin-host.js";
import { subscriptionKind } from "./extensions/plugins/subscription-kind.js";
import type { Subscription } from "./extensions/subscriptions/define.js";
import { SubscriptionService } from "./extensions/subscriptions/service.js";
import { type WorkflowReport, WorkflowSource } from "./extensions/workflows/source.js";
import { builtinHandlers, diagnosticHandlers } from "./handlers/index.js";
import { AuditTrail } from "./observability/audit-trail.js";
import { callLog } from "./observability/call-log.js";
import { createServerMetrics } from "./observability/server-metrics.js";
import { CircuitBreakerMiddleware } from "./resilience/breaker-middleware.js";
import { BulkheadMiddleware } from "./resilience/bulkhead-middleware.js";
import { CacheMiddleware } from "./resilience/cache-middleware.js";
import { BreakerBoard, circuitCollector } from "./resilience/circuit-breaker.js";
import { ResiliencePipeline } from "./resilience/pipeline.js";
import { overridesFor, resolvePolicies } from "./resilience/policy.js";
import { RateLimitMiddleware } from "./resilience/rate-limit-middleware.js";
import { RateLimiter } from "./resilience/rate-limiter.js";
import { ResponseCache } from "./resilience/response-cache.js";
import type { HandlerContext, ServerServices } from "./services.js";
import { lockDataDir } from "./storage/data-dir-lock.js";
import type { EmbeddedPglite } from "./storage/db/embedded-pglite.js";
import { DiagnosticLists } from "./storage/diagnostic-lists.js";
import { type EmbeddedRedis, startEmbeddedRedis } from "./storage/embedded-redis.js";
import { createKeys, type Keys } from "./storage/keys.js";
import { writeScriptsPerTurn } from "./storage/lua-script.js";
import { redactUrl } from "./storage/redact-url.js";
import { connectRedis, RECONNECT_MAX_MS, RedisLink } from "./storage/redis.js";
import { RequestStreamConsumer } from "./storage/request-stream.js";
import { HttpTransport } from "./transports/http.js";
import { mcpOnDemand } from "./transports/mcp-on-demand.js";
import { answerStreamRequests } from "./transports/redis-requests.js";
import { VERSION } from "./version.js";

/**
 * The composition root: config → Redis (embedded or external) → database → registry →
 * dispatcher → transports. Everything it starts it also stops, in reverse order.
 */

export interface StartOptions {
  /** The handlers to serve; the built-ins by default. */
  handlers?: readonly AnyHandler[];
  log?: Logger;
  /** The filter `log` was made with: it then holds back warnings a Redis outage causes. */
  logFilter?: LogFilter;
  /** The clock of rate limits, circuit breakers, the response cache and the recent-call minutes (tests control it). */
  clock?: () => number;
  /** Hook links to run besides the built-in ones (docs/extending.md). */
  hookLinks?: readonly HookLink[];
  /** Event subscriptions to run besides the workflow files' (source `startServer`). */
  subscriptions?: readonly Subscription[];
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly instanceId: string;
  /** The Redis this server uses; it may carry a password (`redactUrl` before printing it). */
  readonly redisUrl: string;
  /** The private redis-server, when this process owns one. */
  readonly embeddedRedis: EmbeddedRedis | null;
  /** The embedded history store's child process (PGlite), when this process owns one. */
  readonly historyStore: EmbeddedPglite | null;
  readonly database: string;
  readonly dispatcher: Dispatcher<ServerServices>;
  /** This server's own Redis connection and key names, for an embedding program (and tests) to look at. */
  readonly redis: Redis;
  readonly keys: Keys;
  /** Reads the workflow directory again and replaces the running workflows (SIGHUP in `serve`). */
  reloadWorkflows(): Promise<WorkflowReport>;
  /** What the plugin directory contributed and what it could not load. */
  readonly plugins: PluginHost;
  close(): Promise<void>;
}

type Closer = () => Promise<void> | void;

/** What `import … from "claudebench"` in a plugin file loads: this package's entry, beside this file. */
const PACKAGE_ENTRY = new URL(`./index${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url)
  .href;

/** What a call gets while Redis is unreachable: come back once it has had time to reconnect. */
const redisUnavailable = () =>
  new AppError("UNAVAILABLE", "Redis is unreachable; retry shortly", {
    dependency: "redis",
    retryAfterMs: 2 * RECONNECT_MAX_MS,
  });

export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const logFilter = options.log ? options.logFilter : new LogFilter();
  const log = options.log ?? createLogger(config.logLevel, { instanceId: config.instanceId }, logFilter);
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
    const handlers = [
      ...(options.handlers ?? builtinHandlers),
      ...(config.diagnostics ? diagnosticHandlers : []),
    ];
    const registry = new Registry(handlers);
    const policies = new ProjectPolicies(config.policyFile, (message) => log.error(message));
    const hookChains = new HookChains<HandlerContext>(builtinLinks(policies));
    for (const link of options.hookLinks ?? []) hookChains.register(link);
    // Plugin handlers may be named in HANDLER_POLICIES: checked strictly once they have loaded.
    const policiesOf = (served: readonly AnyHandler[]) =>
      resolvePolicies(served, policyDefaults(config), overridesFor(served, config.handlerPolicies));

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
    // The embedded store's process starts now and persists the outbox itself; nothing waits for it.
    const database =
      databaseTarget.kind === "none"
        ? null
        : await openDatabase(databaseTarget, log, {
            redisUrl,
            keyPrefix: config.keyPrefix,
            consumer: config.instanceId,
            logLevel: config.logLevel,
          });
    if (database) closers.push(() => database.close());
    const redis = await connectRedis(redisUrl, `claudebench:${config.instanceId}`);
    const link = new RedisLink(redis, log);
    if (logFilter) logFilter.holdBack = (fields) => fields.err !== undefined && link.isOutage(fields.err);
    // Requests arrive one per I/O callback: their scripts leave in one write per event-loop turn.
    writeScriptsPerTurn(redis);
    closers.push(async () => {
      link.stop();
      await redis.quit();
    });

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
    const instances = new InstanceRegistry(
      redis,
      keys.coordination,
      tasks.scripts,
      config.heartbeatTimeoutMs,
    );
    const leadership = new Leadership(
      tasks.scripts,
      keys.coordination,
      config.instanceId,
      config.leaderTermMs,
    );
    const breakers = new BreakerBoard({
      redis,
      keys: keys.policy,
      log,
      emit: eventLog.emit,
      clock: options.clock,
    });
    // One middleware per concern, outermost first (docs/resilience.md): rate limit → cache →
    // concurrency limit → circuit breaker → (the dispatcher's timeout, inside the breaker so
    // that it counts timeouts as failures) → handler. Refused calls never reach what follows:
    // a rate-limited call takes no slot, and a cache hit or a refusal for concurrency is no
    // breaker outcome.
    const resilience = new ResiliencePipeline(
      [
        new RateLimitMiddleware(new RateLimiter(redis, keys.policy, config.instanceId, options.clock)),
        new CacheMiddleware(new ResponseCache(redis, keys.policy, options.clock), log),
        new BulkheadMiddleware(),
        new CircuitBreakerMiddleware(breakers, log, () => link.up),
      ],
      policiesOf(handlers),
    );
    await breakers.start();
    closers.push(() => breakers.stop());
    // First listener: a new handler's policy is in force before anything can route to it.
    registry.onChange(() => resilience.setPolicies(policiesOf(registry.list())));
    let coordinator: Coordinator | null = null;
    let membership: Membership | null = null;
    let dispatcher: Dispatcher<ServerServices> | null = null;
    const subscriptions = new SubscriptionService({
      redis,
      keys,
      instanceId: config.instanceId,
      log,
      settings: { claimIdleMs: config.subscriptionClaimIdleMs, concurrency: config.subscriptionConcurrency },
      call: (request) => (dispatcher as Dispatcher<ServerServices>).call(request),
      services: () => services,
      emit: eventLog.emit,
      isLeader: () => leadership.state.leading,
      members: () => coordinator?.view.members ?? 1,
    });
    const plugins = new PluginHost({
      packageEntry: PACKAGE_ENTRY,
      dir: config.pluginsDir,
      required: config.pluginsDirRequired,
      watch: config.watchPlugins,
      // The kinds of value a plugin file may export.
      kinds: [
        handlerKind({ registry, resolvePolicies: policiesOf }),
        subscriptionKind(subscriptions),
        hookLinkKind(hookChains),
      ],
      registry,
      emit: eventLog.emit,
      log,
    });
    closers.push(() => plugins.close());
    const queueSamples = new QueueSampler(() => tasks.gauges(), log, options.clock);
    queueSamples.start();
    closers.push(() => queueSamples.stop());
    const stats = new CallStats(options.clock);
    const services: ServerServices = {
      instanceId: config.instanceId,
      version: VERSION,
      startedAt: Date.now(),
      registry,
      stats,
      queueSamples,
      database,
      tasks,
      archive: database,
      instances,
      policies,
      hookChains,
      circuits: breakers,
      subscriptions,
      plugins,
      cluster: {
        view: () => coordinator?.view ?? { members: 1, healthy: 1, partitioned: false, peers: [] },
        leadership: () => leadership.state,
        ledForMs: () => leadership.ledForMs(),
        servers: async () => (membership ? membership.describe() : []),
        publishedStats: async (ids) => (membership ? membership.publishedStats(ids) : ids.map(() => null)),
      },
      storeProbe: link,
      eventLog,
      auditStream: new AuditStream(redis, keys.audit()),
      sessions: new SessionStore(redis, keys, tasks),
      coordination: new Coordination(tasks.scripts, keys.coordination),
      diagnostics: new DiagnosticLists(redis, keys),
    };
    // Written after in-flight calls finish (closers run in reverse), before Redis is closed.
    const audit = new AuditTrail(redis, keys.audit(), config.auditStreamMaxLen, config.instanceId, log);
    closers.push(() => audit.close());
    const metrics = createServerMetrics({ ...services, redis, keys }, [
      audit.collector,
      circuitCollector(breakers),
    ]);
    closers.push(() => metrics.stop());
    // The audit trail first (outermost): it records calls that later middleware refuses.
    dispatcher = new Dispatcher(
      { registry, log, stats, instanceId: config.instanceId, emit: eventLog.emit },
      services,
      [audit.middleware, ...(log.isLevelEnabled("debug") ? [callLog] : []), resilience.middleware],
      resilience.timeoutFor,
      (err) => (link.isOutage(err) ? redisUnavailable() : undefined),
    );
    await plugins.start({ dispatcher, log });
    resilience.setPolicies(resolvePolicies(registry.list(), policyDefaults(config), config.handlerPolicies));

    // With PostgreSQL this process writes the history; the embedded store's process does its own.
    if (database && !database.store) {
      closers.push(await persistOutboxes({ redis, keys, database, consumer: config.instanceId, log }));
    }

    const tail = new EventTail(redis, keys, log);
    closers.push(() => tail.close());
    const consumer = new RequestStreamConsumer(
      redis,
      keys,
      config.instanceId,
      log,
      { claimIdleMs: config.requestClaimIdleMs },
      answerStreamRequests(dispatcher, { maxBatch: config.rpcBatchMax, maxBodyBytes: config.maxBodyBytes }),
    );
    await consumer.start();
    closers.push(() => consumer.stop());

    // Subscriptions deliver in background loops; the tail only wakes them when their events arrive.
    const workflows = new WorkflowSource(
      config.workflowsDir,
      subscriptions,
      new RateLimiter(redis, keys.policy, config.instanceId, options.clock),
      (method) => registry.resolve(method) !== undefined,
      log,
    );
    closers.push(() => subscriptions.stop());
    let stopWakeUps: (() => void) | null = null;
    subscriptions.onRunning(async (running) => {
      if (running && !stopWakeUps) {
        stopWakeUps = await tail.subscribe({
          filter: (event) => subscriptions.wants(event),
          deliver: (event) => subscriptions.wake(event),
        });
      } else if (!running && stopWakeUps) {
        stopWakeUps();
        stopWakeUps = null;
      }
    });
    await subscriptions.install("startServer", options.subscriptions ?? []);
    await workflows.reload();

    const http = new HttpTransport({
      dispatcher,
      mcp: mcpOnDemand(async () => {
        const { McpEndpoint } = await import("./transports/mcp.js");
        return new McpEndpoint(dispatcher as Dispatcher, VERSION, {
          sessionIdleMs: config.mcpSessionIdleMs,
          maxSessions: config.mcpMaxSessions,
          log,
        });
      }),
      tail,
      metrics: metrics.registry,
      publicPages: (req, res, path) => serveDashboard(req, res, path, { auth: Boolean(config.authToken) }),
      sessionInstanceId,
      authToken: config.authToken,
      allowedHosts: config.allowedHosts,
      allowedOrigins: config.allowedOrigins,
      maxBodyBytes: config.maxBodyBytes,
      maxBatch: config.rpcBatchMax,
      eventClientBufferBytes: config.eventClientBufferBytes,
      eventClientsMax: config.eventClientsMax,
      eventBuffersTotalBytes: config.eventBuffersTotalBytes,
      log,
      version: VERSION,
    });
    const address = await http.listen(config.port, config.host);
    closers.push(() => http.close(config.shutdownTimeoutMs));

    const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
    const url = `http://${host}:${address.port}`;
    membership = new Membership(redis, keys.coordination, config.instanceId, url, config.membershipTtlMs);
    coordinator = new Coordinator(
      {
        redis,
        q: keys.coordination,
        scripts: tasks.scripts,
        instances,
        leadership,
        membership,
        tasks,
        stats: services.stats,
        emit: eventLog.emit,
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
      historyStore: database?.store ?? null,
      database:
        databaseTarget.kind === "postgres"
          ? `PostgreSQL ${redactUrl(databaseTarget.url)} (DATABASE_URL)`
          : databaseTarget.kind === "pglite"
            ? `PGlite in ${databaseTarget.dir}`
            : `none: ${databaseTarget.reason}`,
      dispatcher,
      redis,
      keys,
      reloadWorkflows: () => workflows.reload(),
      plugins,
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
