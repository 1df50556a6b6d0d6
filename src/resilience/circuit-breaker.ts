import type { Redis } from "ioredis";
import type { EmitFn } from "../core/context.js";
import { AppError, type ErrorCode } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import type { Collector } from "../observability/prometheus.js";
import type { PolicyKeys } from "../storage/keys.js";
import { LuaScript } from "../storage/lua-script.js";
import { quiet } from "../storage/redis.js";
import type { BreakerSettings } from "./policy.js";

/**
 * Circuit breakers, one per method, whose state lives in Redis and is shared by every server
 * process. The hot path costs no round trip while a breaker is closed: each process keeps a
 * local view of every breaker, updated from the scripts' answers and from the transitions
 * the scripts announce on a pub/sub channel, and sends its call outcomes in batches
 * (breakerRecord) — at once when a call failed, every FLUSH_MS otherwise. Open breakers
 * refuse locally until their open time has passed; then calls go to Redis (breakerProbe) for
 * one of the limited probe slots, and a probe's outcome (breakerSettle) closes or reopens it.
 *
 * Only server-side failures count: INTERNAL, TIMEOUT and UNAVAILABLE. Validation, not-found,
 * conflict, rate-limit and the other client errors say nothing about the handler's health.
 */

type BreakerState = "closed" | "open" | "half_open";

const COUNTED: ReadonlySet<ErrorCode> = new Set(["INTERNAL", "TIMEOUT", "UNAVAILABLE"]);
export const countsAsFailure = (code: ErrorCode) => COUNTED.has(code);

/** Successes wait at most this long before they reach Redis; failures go at once. */
const FLUSH_MS = 200;
/** The domain event each transition emits. */
const TRANSITION_EVENTS: Record<BreakerState, string> = {
  open: "circuit.opened",
  half_open: "circuit.half_opened",
  closed: "circuit.closed",
};
const BUCKETS = 10;

const RECORD = LuaScript.fromFile("breakerRecord-1.lua");
const PROBE = LuaScript.fromFile("breakerProbe-1.lua");
const SETTLE = LuaScript.fromFile("breakerSettle-1.lua");

interface View {
  state: BreakerState;
  /** When an open breaker starts letting probes through (epoch ms, the recording clock). */
  openUntil: number;
  /** Outcomes not yet sent. */
  calls: number;
  failures: number;
}

interface BreakerTransition {
  method: string;
  state: BreakerState;
  openUntil: number;
}

/** How a call was admitted: run it normally, or as a probe whose outcome must be settled. */
export type Admission = "normal" | "probe";

interface BreakerBoardOptions {
  redis: Redis;
  keys: PolicyKeys;
  log: Logger;
  emit: EmitFn;
  /** The time source for every breaker decision (tests pass a controllable clock). */
  clock?: () => number;
}

export class BreakerBoard {
  readonly #views = new Map<string, View>();
  readonly #clock: () => number;
  /** Set by `configure`: no method has a breaker before. */
  #breakers: ReadonlyMap<string, BreakerSettings> = new Map();
  #probeTimeoutMs = 0;
  #started = false;
  #subscriber: Redis | null = null;
  #timer: NodeJS.Timeout | null = null;
  #flushing: Promise<void> = Promise.resolve();

  constructor(private readonly options: BreakerBoardOptions) {
    this.#clock = options.clock ?? Date.now;
  }

  /** Subscribes to transitions, then loads every breaker's current state (one round trip). */
  async start(): Promise<void> {
    this.#started = true;
    if (this.#views.size === 0) return;
    await this.#subscribe();
  }

  /**
   * Which methods have a breaker, with their settings, and how long a probe may take before
   * its slot is freed (the longest handler timeout). Once started, when handlers came or
   * went: views for new methods (their state read from Redis, as other processes may have
   * opened them), none for the removed, new settings for the rest.
   */
  configure(breakers: ReadonlyMap<string, BreakerSettings>, probeTimeoutMs: number): void {
    this.#breakers = breakers;
    this.#probeTimeoutMs = probeTimeoutMs;
    for (const method of this.#views.keys()) if (!breakers.has(method)) this.#views.delete(method);
    const added = [...breakers.keys()].filter((method) => !this.#views.has(method));
    for (const method of added) this.#views.set(method, closedView());
    if (!this.#started || added.length === 0) return;
    const loaded = this.#subscriber ? this.#load(added) : this.#subscribe();
    loaded.catch((err) => this.options.log.warn({ err }, "reading new circuit breakers' states failed"));
  }

  async #subscribe(): Promise<void> {
    const subscriber = quiet(
      this.options.redis.duplicate({
        connectionName: "breakers",
        enableAutoPipelining: false,
        // SUBSCRIBE is sent before the connection is up, and again after each reconnection.
        enableOfflineQueue: true,
      }),
    );
    this.#subscriber = subscriber;
    subscriber.on("message", (_channel: string, message: string) => this.#onAnnouncement(message));
    // After a reconnect, announcements may have been missed: read the states again.
    subscriber.on("ready", () => {
      this.#load().catch((err) => this.options.log.warn({ err }, "reloading circuit breaker states failed"));
    });
    await subscriber.subscribe(this.options.keys.breakerChannel);
    await this.#load();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.flush();
    this.#subscriber?.disconnect();
    this.#subscriber = null;
  }

  /** Every breaker as this process sees it (what it enforces). */
  states(): Record<string, { state: BreakerState; openUntil: number }> {
    const out: Record<string, { state: BreakerState; openUntil: number }> = {};
    for (const [method, view] of this.#views) out[method] = { state: view.state, openUntil: view.openUntil };
    return out;
  }

  /**
   * Whether a call of `method` may run. Closed: "normal" with no round trip. Open before its
   * time: CIRCUIT_OPEN with no round trip. Otherwise one round trip for a probe slot.
   */
  admit(method: string): Admission | Promise<Admission> {
    const view = this.#views.get(method);
    if (!view || view.state === "closed") return "normal";
    const now = this.#clock();
    if (view.state === "open" && now < view.openUntil) throw this.#openError(method, view.openUntil - now);
    return this.#probe(method, view, now);
  }

  /** The outcome of a call admitted as "normal": counted, and sent in the next batch. */
  record(method: string, failed: boolean): void {
    const view = this.#views.get(method);
    if (!view) return;
    view.calls++;
    if (failed) {
      view.failures++;
      this.#flushSoon(0);
    } else {
      this.#flushSoon(FLUSH_MS);
    }
  }

  /** The outcome of a probe: closes the breaker or opens it again. */
  async settle(method: string, succeeded: boolean): Promise<void> {
    const settings = this.#breakers.get(method);
    if (!settings) return; // its handler went away while the probe ran
    await this.#transition(SETTLE, method, [
      this.#clock(),
      succeeded ? 1 : 0,
      settings.openMs,
      this.options.keys.breakerChannel,
      method,
      this.#lifetime(settings),
    ]);
  }

  /** Runs breakerRecord or breakerSettle, whose answers start with {state, openUntil, changed}. */
  async #transition(script: LuaScript, method: string, args: (string | number)[]): Promise<void> {
    const [state, openUntil, changed] = (await script.run(
      this.options.redis,
      [this.options.keys.breaker(method)],
      args,
    )) as [BreakerState, number, number];
    this.#apply({ method, state, openUntil: Number(openUntil) }, changed === 1);
  }

  /** Sends every outcome not yet sent; resolves when Redis has them. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#sendBatch());
    return this.#flushing;
  }

  async #probe(method: string, view: View, now: number): Promise<Admission> {
    const settings = this.#settings(method);
    const [verdict, state, waitMs, changed] = (await PROBE.run(
      this.options.redis,
      [this.options.keys.breaker(method)],
      [
        now,
        settings.halfOpenProbes,
        this.#probeTimeoutMs,
        this.options.keys.breakerChannel,
        method,
        this.#lifetime(settings),
      ],
    )) as [number, BreakerState, number, number];
    // The transition's own announcement may have reached the local view first: the process
    // that made it (changed) still emits its event.
    if (changed === 1 || state !== view.state) {
      this.#apply({ method, state, openUntil: state === "open" ? now + Number(waitMs) : 0 }, changed === 1);
    }
    if (verdict === 0) throw this.#openError(method, Number(waitMs));
    return verdict === 2 ? "probe" : "normal";
  }

  #flushSoon(delayMs: number): void {
    if (delayMs === 0) {
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = null;
      this.flush().catch(() => undefined);
      return;
    }
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.flush().catch(() => undefined);
    }, delayMs);
    this.#timer.unref();
  }

  async #sendBatch(): Promise<void> {
    const sends: Promise<void>[] = [];
    for (const [method, view] of this.#views) {
      if (view.calls === 0) continue;
      const { calls, failures } = view;
      view.calls = 0;
      view.failures = 0;
      sends.push(this.#sendOutcomes(method, calls, failures));
    }
    await Promise.all(sends);
  }

  async #sendOutcomes(method: string, calls: number, failures: number): Promise<void> {
    const settings = this.#settings(method);
    try {
      await this.#transition(RECORD, method, [
        this.#clock(),
        calls,
        failures,
        settings.windowMs,
        BUCKETS,
        settings.minCalls,
        settings.failureRatio,
        settings.openMs,
        this.options.keys.breakerChannel,
        method,
        this.#lifetime(settings),
      ]);
    } catch (err) {
      // Redis unreachable: the outcomes are lost, the breaker keeps its last known state.
      this.options.log.warn({ err, method }, "recording call outcomes for the circuit breaker failed");
    }
  }

  #onAnnouncement(message: string): void {
    try {
      const t = JSON.parse(message) as BreakerTransition;
      this.#apply({ method: t.method, state: t.state, openUntil: Number(t.openUntil) }, false);
    } catch (err) {
      this.options.log.warn({ err }, "unreadable circuit breaker announcement");
    }
  }

  async #load(methods = [...this.#views.keys()]): Promise<void> {
    const pipeline = this.options.redis.pipeline();
    for (const method of methods) pipeline.hmget(this.options.keys.breaker(method), "state", "openUntil");
    const replies = (await pipeline.exec()) ?? [];
    methods.forEach((method, i) => {
      const [state, openUntil] = (replies[i]?.[1] as (string | null)[] | undefined) ?? [];
      this.#apply(
        { method, state: (state ?? "closed") as BreakerState, openUntil: Number(openUntil ?? 0) },
        false,
      );
    });
  }

  /** Updates the local view; the process that made a transition also logs and emits it. */
  #apply(transition: BreakerTransition, madeHere: boolean): void {
    const view = this.#views.get(transition.method);
    if (!view) return;
    view.state = transition.state;
    view.openUntil = transition.openUntil;
    if (!madeHere) return;
    this.options.log.warn({ ...transition }, "circuit breaker changed state");
    this.options.emit(TRANSITION_EVENTS[transition.state], { ...transition }).catch(() => undefined);
  }

  #openError(method: string, waitMs: number): AppError {
    const retryAfterMs = Math.max(0, Math.ceil(waitMs));
    return new AppError(
      "CIRCUIT_OPEN",
      `Circuit breaker open for ${method}: it failed too often; retry after ${Math.ceil(retryAfterMs / 1000)} s`,
      { method, retryAfterMs },
    );
  }

  #settings(method: string): BreakerSettings {
    return this.#breakers.get(method) as BreakerSettings;
  }

  /** How long a breaker's hash outlives its last write: past its window, open time and probes. */
  #lifetime(settings: BreakerSettings): number {
    return settings.windowMs + settings.openMs + this.#probeTimeoutMs + 60_000;
  }
}

const closedView = (): View => ({ state: "closed", openUntil: 0, calls: 0, failures: 0 });

const STATE_VALUES: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

/** `/metrics`: each method's breaker as this process enforces it (0 closed, 1 half-open, 2 open). */
export function circuitCollector(board: Pick<BreakerBoard, "states">): Collector {
  return () => [
    {
      name: "claudebench_circuit_state",
      help: "Circuit breaker state per method as this process enforces it: 0 closed, 1 half-open, 2 open.",
      type: "gauge",
      samples: Object.entries(board.states()).map(([method, { state }]) => ({
        labels: { method },
        value: STATE_VALUES[state],
      })),
    },
  ];
}
