import type { z } from "zod";
import type { CallContext, EmitFn, RequestMeta, TransportName } from "./context.js";
import { AppError, toAppError } from "./errors.js";
import type { AnyHandler } from "./handler.js";
import { JSON_MAX_DEPTH, nestedDeeperThan } from "./json-bounds.js";
import type { Logger } from "./logger.js";
import type { CallStats } from "./metrics.js";
import type { Registry } from "./registry.js";
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
  /** The kernel's part of the call's context: middleware names no service either. */
  readonly ctx: CallContext;
}

/**
 * The middleware slot (auth, rate limit, breaker, timeout, cache): runs between input
 * validation and the handler, on every transport alike.
 */
export type Middleware = (invocation: Invocation, next: () => Promise<unknown>) => Promise<unknown>;

const NEVER_ABORTED = new AbortController().signal;

/**
 * The class of every call's context. The server's services and `invoke` sit on its prototype,
 * shared by every call, so that a call builds one small object of one fixed shape (copying the
 * services into each context cost more). `ctx.log` is the call's child logger, made only when
 * a handler logs (a pino child costs more than the rest of the context).
 */
function contextClass<S extends object>(base: object, root: Logger) {
  class Call {
    readonly #signal: AbortSignal | AbortController;
    #log: Logger | undefined;
    constructor(
      readonly method: string,
      readonly transport: TransportName,
      readonly meta: RequestMeta,
      readonly requestId: string,
      signal: AbortSignal | AbortController,
    ) {
      this.#signal = signal;
    }

    /** A handed-over controller's signal is made only here, when a handler reads it. */
    get signal(): AbortSignal {
      const signal = this.#signal;
      return signal instanceof AbortController ? signal.signal : signal;
    }

    /** The call's child logger (request id, method, session, instance), made on first use. */
    get log(): Logger {
      this.#log ??= root.child(callBindings(this.requestId, this.method, this.transport, this.meta));
      return this.#log;
    }
  }
  // The services and `invoke` are shared by every call through the prototype chain.
  Object.setPrototypeOf(Call.prototype, base);
  return Call as unknown as new (
    method: string,
    transport: TransportName,
    meta: RequestMeta,
    requestId: string,
    signal: AbortSignal | AbortController,
  ) => CallContext & S;
}

const callBindings = (requestId: string, method: string, transport: string, meta: RequestMeta) => ({
  requestId,
  method,
  transport,
  sessionId: meta.sessionId,
  instanceId: meta.instanceId,
});

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

function validationError(error: z.ZodError): AppError {
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

/** What the dispatcher itself needs of the server that runs it. */
interface DispatchKernel {
  /** The handlers served. */
  readonly registry: Registry;
  /** The root logger; each call's `ctx.log` is its child. */
  readonly log: Logger;
  /** Calls, errors and latency per method. */
  readonly stats: CallStats;
  /** This server process's id: it prefixes the request ids of calls that bring none. */
  readonly instanceId: string;
  readonly emit: EmitFn;
}

/**
 * The one pipeline every transport calls: look up → validate input → middleware → handle
 * → validate output, recording calls, errors and latency for each method. Generic over the
 * services `S` the server adds to each call's context (handlers see `CallContext & S`).
 */
export class Dispatcher<S extends object = object> {
  readonly kernel: DispatchKernel;
  readonly registry: Registry;
  /** The services every call's context carries besides the kernel's. */
  readonly services: S;
  /** Builds each call's context (see contextClass). */
  readonly #Context: ReturnType<typeof contextClass<S>>;
  /** Request ids for calls that bring none: this server's id and a counter (no per-call randomness). */
  #lastRequest = 0;

  readonly #timeoutFor: (handler: AnyHandler) => number;
  readonly #translate: ((err: unknown) => unknown) | undefined;

  constructor(
    kernel: DispatchKernel,
    services: S,
    private readonly middleware: readonly Middleware[] = [],
    /** Each handler's time limit in ms (0: none); by default what the handler declares. */
    timeoutFor: (handler: AnyHandler) => number = (handler) => handler.policy.timeoutMs ?? 0,
    /**
     * Recognises failures of a dependency (Redis unreachable) and says what the caller gets
     * instead of INTERNAL. Applied where the handler's promise settles, so that the middleware
     * (breaker, audit) sees the translated error, and again to what the middleware throws.
     */
    dependencyError?: (err: unknown) => AppError | undefined,
  ) {
    this.kernel = kernel;
    this.registry = kernel.registry;
    this.services = services;
    this.#timeoutFor = timeoutFor;
    this.#translate = dependencyError && ((err) => dependencyError(err) ?? err);
    const dispatcher = this;
    // One shared function reading the caller's context through `this`: no closure per call.
    function invoke(this: CallContext, method: string, params: unknown): Promise<unknown> {
      const { meta, signal, requestId } = this;
      return dispatcher.call({ method, params, transport: "internal", meta, signal, requestId });
    }
    this.#Context = contextClass<S>(Object.assign({}, services, { emit: kernel.emit, invoke }), kernel.log);
  }

  /** The handler serving `method` on `transport`, or METHOD_NOT_FOUND. */
  resolve(method: string, transport: TransportName): AnyHandler {
    const handler = this.registry.resolve(method);
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
      `${this.kernel.instanceId}:${++this.#lastRequest}`;
    try {
      const result = await this.#run(handler, request, meta, requestId);
      this.kernel.stats.record(handler.name, performance.now() - started);
      return result;
    } catch (thrown) {
      const err = this.#translate ? this.#translate(thrown) : thrown;
      const appError = toAppError(err);
      if (appError !== err) {
        this.kernel.log.error(
          { err, ...callBindings(requestId, handler.name, request.transport, meta) },
          "handler failed with an unexpected error",
        );
      }
      this.kernel.stats.record(handler.name, performance.now() - started, appError.code);
      throw appError;
    }
  }

  async #run(
    handler: AnyHandler,
    request: CallRequest,
    meta: RequestMeta,
    requestId: string,
  ): Promise<unknown> {
    // Before any schema walks them: a value nested thousands deep would overflow the stack.
    if (nestedDeeperThan(request.params, JSON_MAX_DEPTH)) {
      throw new AppError(
        "VALIDATION",
        `Invalid params: nested deeper than ${JSON_MAX_DEPTH} levels of objects and arrays (the limit for every call)`,
        { limit: JSON_MAX_DEPTH },
      );
    }
    const parsed = handler.input.safeParse(request.params ?? {});
    if (!parsed.success) throw validationError(parsed.error);
    const timeoutMs = this.#timeoutFor(handler);
    let { signal = NEVER_ABORTED } = request;
    let unlink: (() => void) | undefined;
    if (timeoutMs > 0 && !(signal instanceof AbortController)) {
      // The timeout must be able to abort the handler's signal: a controller of our own,
      // following the caller's signal while the call runs.
      ({ controller: signal, unlink } = followSignal(signal));
    }
    const ctx = new this.#Context(request.method, request.transport, meta, requestId, signal);
    const invocation: Invocation = { handler, input: parsed.data, ctx };
    const translate = this.#translate;
    const handled =
      timeoutMs > 0
        ? () => withTimeout(invocation, timeoutMs, signal as AbortController)
        : () => handler.handle(invocation.input, ctx);
    const innermost = translate
      ? () =>
          handled().catch((err: unknown) => {
            throw translate(err);
          })
      : handled;
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
