import type { z } from "zod";
import type { HandlerContext, RequestMeta, ServerServices, TransportName } from "./context.js";
import { AppError, toAppError } from "./errors.js";
import type { AnyHandler } from "./handler.js";
import type { Logger } from "./logger.js";
import { within } from "./timers.js";

/** One call as a transport hands it over: the method name and params still untrusted. */
export interface CallRequest {
  method: string;
  params: unknown;
  transport: TransportName;
  meta?: RequestMeta;
  /**
   * Aborted when the caller goes away. A transport may hand over the AbortController instead:
   * its signal is then created only when something reads `ctx.signal` (creating an AbortSignal
   * costs ~5 µs on Node 20, and most calls never look at it).
   */
  signal?: AbortSignal | AbortController;
  /** Set by `ctx.invoke`: a nested call keeps its caller's request id. */
  requestId?: string;
}

/** A call after validation, as middleware sees it. */
export interface Invocation {
  readonly handler: AnyHandler;
  readonly input: unknown;
  readonly ctx: HandlerContext;
}

/**
 * The middleware slot (auth, rate limit, breaker, timeout, cache): runs between input
 * validation and the handler, on every transport alike.
 */
export type Middleware = (invocation: Invocation, next: () => Promise<unknown>) => Promise<unknown>;

const NEVER_ABORTED = new AbortController().signal;

const CONTROLLER = Symbol("controller");

/**
 * `ctx.log` on every context's prototype: the call's child logger is made only when a handler
 * logs (a pino child costs more than the rest of the context), then kept on the context.
 */
function contextPrototype(root: Logger): object {
  return Object.defineProperty({}, "log", {
    get(this: HandlerContext & { [CALL_LOG]?: Logger }): Logger {
      this[CALL_LOG] ??= root.child(callBindings(this.requestId, this.method, this.transport, this.meta));
      return this[CALL_LOG];
    },
  });
}

const CALL_LOG = Symbol("callLog");

const callBindings = (requestId: string, method: string, transport: string, meta: RequestMeta) => ({
  requestId,
  method,
  transport,
  sessionId: meta.sessionId,
  instanceId: meta.instanceId,
});

/** `ctx.signal` for a handed-over controller: one shared getter, so every context keeps one shape. */
function controllerSignal(this: { [CONTROLLER]: AbortController }): AbortSignal {
  return this[CONTROLLER].signal;
}

/** A controller that aborts when `signal` does, and the function that stops following it. */
function followSignal(signal: AbortSignal): { controller: AbortController; unlink?: () => void } {
  const controller = new AbortController();
  if (signal === NEVER_ABORTED) return { controller };
  if (signal.aborted) {
    controller.abort(signal.reason);
    return { controller };
  }
  const onAbort = () => controller.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  return { controller, unlink: () => signal.removeEventListener("abort", onAbort) };
}

/**
 * Runs the handler for at most `timeoutMs`: past it the caller gets TIMEOUT and the
 * handler's `ctx.signal` is aborted (with the same error as reason). The timer is cleared as
 * soon as the handler settles.
 */
function withTimeout(
  invocation: Invocation,
  timeoutMs: number,
  controller: AbortController,
): Promise<unknown> {
  const { handler } = invocation;
  return within(handler.handle(invocation.input, invocation.ctx), timeoutMs, () => {
    const err = new AppError("TIMEOUT", `${handler.name} did not finish within ${timeoutMs} ms`, {
      method: handler.name,
      timeoutMs,
    });
    controller.abort(err);
    return err;
  });
}

export function validationError(error: z.ZodError): AppError {
  const issues = error.issues.map((i) => ({
    path: i.path.map(String).join("."),
    message: i.message,
    code: i.code,
  }));
  const summary = issues
    .slice(0, 3)
    .map((i) => (i.path ? `${i.path}: ${i.message}` : i.message))
    .join("; ");
  return new AppError("VALIDATION", `Invalid params: ${summary}`, { issues });
}

/**
 * The one pipeline every transport calls: look up → validate input → middleware → handle
 * → validate output, recording calls, errors and latency for each method.
 */
export class Dispatcher {
  readonly services: ServerServices;
  /** The services plus `invoke`: what every context is built from. */
  readonly #base: Omit<ServerServices, "log"> & Pick<HandlerContext, "invoke">;
  /** Holds the lazy `log` getter (see contextPrototype). */
  readonly #proto: object;
  /** Request ids for calls that bring none: this server's id and a counter (no per-call randomness). */
  #lastRequest = 0;

  readonly #timeoutFor: (handler: AnyHandler) => number;

  constructor(
    services: ServerServices,
    private readonly middleware: readonly Middleware[] = [],
    /** Each handler's time limit in ms (0: none); by default what the handler declares. */
    timeoutFor: (handler: AnyHandler) => number = (handler) => handler.policy.timeoutMs ?? 0,
  ) {
    this.services = services;
    this.#timeoutFor = timeoutFor;
    const dispatcher = this;
    // One shared function reading the caller's context through `this`: no closure per call.
    function invoke(this: HandlerContext, method: string, params: unknown): Promise<unknown> {
      const { meta, signal, requestId } = this;
      return dispatcher.call({ method, params, transport: "internal", meta, signal, requestId });
    }
    const { log, ...rest } = services;
    this.#base = Object.assign(rest, { invoke });
    this.#proto = contextPrototype(log);
  }

  /** The handler serving `method` on `transport`, or METHOD_NOT_FOUND. */
  resolve(method: string, transport: TransportName): AnyHandler {
    const handler = this.services.registry.resolve(method);
    if (!handler || (transport !== "internal" && !handler.expose[transport])) {
      throw new AppError("METHOD_NOT_FOUND", `Method not found: ${method}`, { method });
    }
    return handler;
  }

  async call(request: CallRequest): Promise<unknown> {
    const handler = this.resolve(request.method, request.transport);
    const started = performance.now();
    const meta = request.meta ?? {};
    const requestId =
      request.requestId ??
      meta.requestId ??
      meta.correlationId ??
      `${this.services.instanceId}:${++this.#lastRequest}`;
    try {
      const result = await this.#run(handler, request, meta, requestId);
      this.services.stats.record(handler.name, performance.now() - started);
      return result;
    } catch (err) {
      const appError = toAppError(err);
      if (appError !== err) {
        this.services.log.error(
          { err, ...callBindings(requestId, handler.name, request.transport, meta) },
          "handler failed with an unexpected error",
        );
      }
      this.services.stats.record(handler.name, performance.now() - started, appError.code);
      throw appError;
    }
  }

  async #run(
    handler: AnyHandler,
    request: CallRequest,
    meta: RequestMeta,
    requestId: string,
  ): Promise<unknown> {
    const parsed = handler.input.safeParse(request.params ?? {});
    if (!parsed.success) throw validationError(parsed.error);
    // The same object as `{ ...this.services, method, transport, meta, signal }`, but on Node 20
    // (V8 11.3) a spread followed by more properties builds a fresh hidden class on every call:
    // ~10 µs and garbage per call (docs/performance.md). Object.assign into a fresh object (its
    // prototype holds the lazy `log`) keeps one shape.
    const fields = { method: request.method, transport: request.transport, meta, requestId };
    const timeoutMs = this.#timeoutFor(handler);
    let { signal = NEVER_ABORTED } = request;
    let unlink: (() => void) | undefined;
    if (timeoutMs > 0 && !(signal instanceof AbortController)) {
      // The timeout must be able to abort the handler's signal: a controller of our own,
      // following the caller's signal while the call runs.
      ({ controller: signal, unlink } = followSignal(signal));
    }
    let ctx: HandlerContext;
    if (signal instanceof AbortController) {
      const base = Object.defineProperty(
        Object.assign(Object.create(this.#proto), this.#base, fields),
        CONTROLLER,
        {
          value: signal,
        },
      );
      ctx = Object.defineProperty(base, "signal", {
        enumerable: true,
        get: controllerSignal,
      }) as HandlerContext;
    } else {
      ctx = Object.assign(Object.create(this.#proto), this.#base, fields, { signal });
    }
    const invocation: Invocation = { handler, input: parsed.data, ctx };
    const innermost =
      timeoutMs > 0
        ? () => withTimeout(invocation, timeoutMs, signal as AbortController)
        : () => handler.handle(invocation.input, ctx);
    let result: unknown;
    try {
      result = await this.#next(invocation, 0, innermost);
    } finally {
      unlink?.();
    }
    const output = handler.output.safeParse(result);
    if (!output.success) {
      ctx.log.error(
        { issues: output.error.issues },
        "handler returned a result that does not match its output schema",
      );
      throw new AppError("INTERNAL", "Internal error");
    }
    return output.data;
  }

  #next(invocation: Invocation, index: number, innermost: () => Promise<unknown>): Promise<unknown> {
    const middleware = this.middleware[index];
    if (!middleware) return innermost();
    return middleware(invocation, () => this.#next(invocation, index + 1, innermost));
  }
}
