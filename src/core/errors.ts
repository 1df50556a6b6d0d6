/**
 * One error type for the whole server. A handler throws `AppError(code, message, data)`;
 * each transport maps the stable `code` through its own table below. Nothing classifies
 * an error by its message text.
 */

export const ERROR_CODES = [
  "PARSE_ERROR",
  "INVALID_REQUEST",
  "METHOD_NOT_FOUND",
  "VALIDATION",
  "NOT_FOUND",
  "CONFLICT",
  "LEASE_LOST",
  "QUEUE_FULL",
  "RATE_LIMITED",
  "CIRCUIT_OPEN",
  "TIMEOUT",
  "UNAUTHORIZED",
  "HOOK_BLOCKED",
  "UNAVAILABLE",
  "SESSION_NOT_FOUND",
  "INTERNAL",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly data?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "AppError";
  }
}

/** Any thrown value becomes an AppError; unknown exceptions become INTERNAL without their details. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  return new AppError("INTERNAL", "Internal error");
}

/** JSON-RPC 2.0 error codes. -32000..-32003 are the original ClaudeBench's; the rest are ours. */
export const JSONRPC_CODES: Record<ErrorCode, number> = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  VALIDATION: -32602,
  INTERNAL: -32603,
  RATE_LIMITED: -32000,
  CIRCUIT_OPEN: -32001,
  UNAUTHORIZED: -32002,
  HOOK_BLOCKED: -32003,
  NOT_FOUND: -32004,
  TIMEOUT: -32005,
  CONFLICT: -32009,
  LEASE_LOST: -32009,
  QUEUE_FULL: -32010,
  UNAVAILABLE: -32011,
  SESSION_NOT_FOUND: -32012,
};

/** HTTP status for the `POST /{domain}/{action}` routes (and for /rpc's auth failure). */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  PARSE_ERROR: 400,
  INVALID_REQUEST: 400,
  METHOD_NOT_FOUND: 404,
  VALIDATION: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  LEASE_LOST: 409,
  QUEUE_FULL: 503,
  RATE_LIMITED: 429,
  CIRCUIT_OPEN: 503,
  TIMEOUT: 504,
  UNAUTHORIZED: 401,
  HOOK_BLOCKED: 403,
  UNAVAILABLE: 503,
  SESSION_NOT_FOUND: 404,
  INTERNAL: 500,
};

/**
 * The body every transport sends for an error: the stable code travels in `data.code`
 * so that clients can tell CONFLICT from LEASE_LOST although both are -32009.
 */
export function errorPayload(err: AppError): { message: string; data: Record<string, unknown> } {
  return { message: err.message, data: { code: err.code, ...err.data } };
}
