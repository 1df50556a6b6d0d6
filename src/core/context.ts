import type { Logger } from "./logger.js";

export type TransportName = "jsonrpc" | "http" | "mcp" | "events" | "internal";

/** Who is calling, as told by the caller (JSON-RPC `metadata`, HTTP `x-*` headers). */
export interface RequestMeta {
  sessionId?: string;
  instanceId?: string;
  correlationId?: string;
  /** The caller's request id (HTTP `x-request-id`), used as the call's request id. */
  requestId?: string;
  /** The client's address, set by the HTTP transport from the connection (never from the caller's metadata). */
  remoteAddress?: string;
}

/** Publishes a domain event on the capped event stream; resolves with the event's stream id. */
export type EmitFn = (event: string, payload: Record<string, unknown>) => Promise<string>;

/**
 * What the kernel gives every call, whatever server runs it. A server adds its own services
 * (src/services.ts): a handler's context is this plus them, and `defineHandler`, `Dispatcher`
 * and the middleware are generic over it, so the kernel names no service.
 */
export interface CallContext {
  readonly method: string;
  /** Names this call in logs and the audit trail: the caller's x-request-id or correlationId, else generated. */
  readonly requestId: string;
  /** A logger bound to this call (requestId, method, transport, sessionId, instanceId), made on first use. */
  readonly log: Logger;
  readonly transport: TransportName;
  readonly meta: RequestMeta;
  /** Aborted when the caller goes away or the call times out; long work should stop. */
  readonly signal: AbortSignal;
  /** Publishes a domain event (on the server's event stream). */
  readonly emit: EmitFn;
  /** Calls another handler through the same pipeline (validation, policy), as this caller. */
  invoke(method: string, params: unknown): Promise<unknown>;
}
