import type { z } from "zod";
import type { CallContext } from "./context.js";
import type { PolicyOverride } from "./handler-policy.js";

/**
 * Per-handler resilience settings (timeout, rate limit, circuit breaker, cache, concurrency
 * limit), over the server-wide defaults; `false` turns a default off. See resilience/policy.ts.
 */
export type HandlerPolicy = PolicyOverride;

/** MCP tool annotations: hints a model's client uses to decide how careful to be. */
interface ToolAnnotations {
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

/** Which transports serve a handler. JSON-RPC, HTTP and Redis events default to on; MCP too. */
interface Exposure {
  jsonrpc: boolean;
  http: boolean;
  events: boolean;
  /** `false` keeps the handler away from models (admin or dangerous operations). */
  mcp: false | { annotations: ToolAnnotations; title?: string };
}

/**
 * A handler, generic over the context its server gives each call (`C`): the kernel's
 * CallContext plus the server's services (src/services.ts defines the built-in server's).
 */
export interface HandlerDefinition<
  I extends z.ZodType,
  O extends z.ZodType,
  C extends CallContext = CallContext,
> {
  /** `domain.action` */
  name: string;
  /** Written for a model and a person: what it does and when to use it. */
  description: string;
  input: I;
  output: O;
  policy?: HandlerPolicy;
  expose?: Partial<Exposure>;
  /**
   * Also serve every unknown method of this handler's domain (e.g. any `hook.<event>` a
   * client sends): `ctx.method` then holds the name that was called.
   */
  catchAll?: boolean;
  /**
   * A plugin handler whose name is a built-in's replaces that built-in only when it says so
   * here; without it the clash is refused (a typo must not silently shadow `task.create`).
   */
  overrides?: true;
  handle(input: z.output<I>, ctx: C): Promise<z.input<O>>;
}

export interface Handler<
  I extends z.ZodType = z.ZodType,
  O extends z.ZodType = z.ZodType,
  C extends CallContext = CallContext,
> extends HandlerDefinition<I, O, C> {
  readonly policy: HandlerPolicy;
  readonly expose: Exposure;
}

// biome-ignore lint/suspicious/noExplicitAny: a list of handlers holds many input/output types
export type AnyHandler = Handler<any, any, any>;

/**
 * Marks the values `defineHandler` makes, so a plugin loader can tell them from a module's
 * other exports. `Symbol.for`: a plugin that bundles its own copy of this package still
 * makes values the server recognises.
 */
const HANDLER_BRAND = Symbol.for("claudebench.handler");

/** Whether `value` was made by `defineHandler` (any copy of this package). */
export const isHandler = (value: unknown): value is AnyHandler =>
  typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[HANDLER_BRAND] === true;

/** Fills in the defaults. A plain value: no decorators, no global registry, no import side effects. */
export function defineHandler<I extends z.ZodType, O extends z.ZodType, C extends CallContext = CallContext>(
  def: HandlerDefinition<I, O, C>,
): Handler<I, O, C> {
  return Object.freeze({
    ...def,
    [HANDLER_BRAND]: true,
    policy: def.policy ?? {},
    expose: {
      jsonrpc: def.expose?.jsonrpc ?? true,
      http: def.expose?.http ?? true,
      events: def.expose?.events ?? true,
      mcp: def.expose?.mcp ?? { annotations: {} },
    },
  });
}
