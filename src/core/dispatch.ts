import type { z } from "zod";
import type { HandlerContext, RequestMeta, ServerServices, TransportName } from "./context.js";
import { AppError, toAppError } from "./errors.js";
import type { AnyHandler } from "./handler.js";
import type { Logger } from "./logger.js";

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

  constructor(
    services: ServerServices,
    private readonly middleware: readonly Middleware[] = [],
  ) {
    this.services = services;
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
    const { signal = NEVER_ABORTED } = request;
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
    const result = await this.#next(invocation, 0);
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

  #next(invocation: Invocation, index: number): Promise<unknown> {
    const middleware = this.middleware[index];
    if (!middleware) return invocation.handler.handle(invocation.input, invocation.ctx);
    return middleware(invocation, () => this.#next(invocation, index + 1));
  }
}
