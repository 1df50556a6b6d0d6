import { type Redis, ReplyError } from "ioredis";
import type { Invocation, Middleware } from "../core/dispatch.js";
import { AppError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import {
  type AuditOutcome,
  auditEntry,
  isStateChanging,
  type PendingAuditRecord,
  targetOf,
} from "../domain/audit/record.js";
import { LuaScript } from "../storage/lua-script.js";
import type { Collector } from "./prometheus.js";

/**
 * Records every state-changing call (see domain/audit/record.ts for the rule) as the
 * outermost dispatch middleware, so calls refused by later middleware (rate limit, breaker)
 * and calls that fail are audited too. Calls rejected before the middleware (unknown method,
 * invalid params) change nothing and are not audited; nested calls (`ctx.invoke`) are part of
 * the audited call that made them.
 *
 * No Redis round trip per call: records wait in process and are written in one script call
 * (appendAudit-1.lua: an XADD ... MAXLEN ~ per record, the record as JSON) every FLUSH_MS, when BATCH are waiting, and
 * at shutdown. A crash loses at most the last interval's records.
 */

const FLUSH_MS = 200;
const APPEND = LuaScript.fromFile("appendAudit-1.lua");
const BATCH = 500;
/** While Redis is unreachable records wait, up to this many; older ones are then dropped (and counted). */
const MAX_WAITING = 20_000;

export class AuditTrail {
  #waiting: PendingAuditRecord[] = [];
  #timer: NodeJS.Timeout | null = null;
  #writing = new Set<Promise<void>>();
  #dropped = 0;
  #failing = false;

  constructor(
    private readonly redis: Redis,
    private readonly stream: string,
    private readonly maxLen: number,
    private readonly server: string,
    private readonly log: Logger,
  ) {}

  // Not async: a read, the common case, passes through without an extra promise.
  readonly middleware: Middleware = (invocation, next) => {
    if (invocation.ctx.transport === "internal" || !isStateChanging(invocation.handler)) return next();
    return this.#audited(invocation, next);
  };

  async #audited(invocation: Invocation, next: () => Promise<unknown>): Promise<unknown> {
    const at = Date.now();
    const started = performance.now();
    try {
      const result = await next();
      this.#add(invocation, at, performance.now() - started, "ok", result);
      return result;
    } catch (err) {
      this.#add(invocation, at, performance.now() - started, err instanceof AppError ? err.code : "INTERNAL");
      throw err;
    }
  }

  /** `claudebench_audit_dropped_total` for the metrics endpoint. */
  readonly collector: Collector = () => [
    {
      name: "claudebench_audit_dropped_total",
      help: "Audit records this process dropped because Redis stayed unreachable while too many waited.",
      type: "counter",
      samples: [{ value: this.#dropped }],
    },
  ];

  #add({ input, ctx }: Invocation, at: number, ms: number, outcome: AuditOutcome, result?: unknown): void {
    const { meta } = ctx;
    this.#waiting.push({
      atMs: at,
      method: ctx.method, // the name called: a catch-all handler serves many
      transport: ctx.transport,
      outcome,
      target: targetOf(input, result),
      sessionId: meta.sessionId ?? null,
      instanceId: meta.instanceId ?? null,
      remoteAddress: meta.remoteAddress ?? null,
      requestId: ctx.requestId,
      server: this.server,
      durationMs: Math.round(ms * 1000) / 1000,
    });
    if (this.#waiting.length >= BATCH) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  /** Writes what waits in one script call; resolves when it is written (or failed and put back). */
  flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    const batch = this.#waiting;
    if (batch.length === 0) return Promise.all(this.#writing).then(() => undefined);
    this.#waiting = [];
    const args: (string | number)[] = [this.maxLen];
    for (const record of batch) args.push(auditEntry(record));
    const writing = APPEND.run(this.redis, [this.stream], args).then(
      () => {
        if (this.#failing) {
          this.#failing = false;
          this.log.info("audit trail written again");
        }
      },
      (err) => {
        // Redis refused the script (some records may be written): retrying would duplicate them.
        if (err instanceof ReplyError)
          this.log.error({ err }, "audit records refused by Redis; they are lost");
        else this.#putBack(batch, err);
      },
    );
    this.#writing.add(writing);
    void writing.finally(() => this.#writing.delete(writing));
    return writing;
  }

  /** A failed write: the records go back in front of newer ones, within the bound. */
  #putBack(batch: PendingAuditRecord[], err: unknown): void {
    if (!this.#failing) {
      this.#failing = true;
      this.log.warn({ err }, "writing the audit trail failed; records wait in memory and are retried");
    }
    const waiting = batch.concat(this.#waiting);
    const excess = waiting.length - MAX_WAITING;
    if (excess > 0) {
      waiting.splice(0, excess);
      this.#dropped += excess;
    }
    this.#waiting = waiting;
    this.#timer ??= setTimeout(() => this.flush(), FLUSH_MS * 5).unref();
  }

  /** Writes everything still waiting (at shutdown, before Redis is closed). */
  async close(): Promise<void> {
    await this.flush();
  }
}
