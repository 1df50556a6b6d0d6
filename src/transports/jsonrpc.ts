import type { JsonRpcFailure, JsonRpcId, JsonRpcResponse } from "../contract/jsonrpc.js";
import type { RequestMeta, TransportName } from "../core/context.js";
import type { Dispatcher } from "../core/dispatch.js";
import { AppError, errorPayload, JSONRPC_CODES, toAppError } from "../core/errors.js";

/**
 * JSON-RPC 2.0 over any carrier: the HTTP `/rpc` endpoint and the Redis request stream
 * both hand a parsed body to `processJsonRpc`. Single requests, batches (answered entry by
 * entry) and notifications (no answer) are handled here and nowhere else.
 */

export function jsonRpcError(id: JsonRpcId, err: AppError): JsonRpcFailure {
  const { message, data } = errorPayload(err);
  return { jsonrpc: "2.0", id, error: { code: JSONRPC_CODES[err.code], message, data } };
}

/** Returned by `parseJson` for text that is not JSON (JSON itself can never produce it). */
export const UNPARSEABLE: unique symbol = Symbol("unparseable");

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return UNPARSEABLE;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const isValidId = (id: unknown): id is JsonRpcId =>
  id === null || typeof id === "string" || (typeof id === "number" && Number.isFinite(id));

/** `metadata` as the original sends it: only string fields we know, anything else ignored. */
function readMeta(raw: unknown, base: RequestMeta): RequestMeta {
  if (!isObject(raw)) return base;
  const meta: RequestMeta = { ...base };
  if (typeof raw.sessionId === "string") meta.sessionId = raw.sessionId;
  if (typeof raw.instanceId === "string") meta.instanceId = raw.instanceId;
  if (typeof raw.correlationId === "string") meta.correlationId = raw.correlationId;
  return meta;
}

async function processOne(
  dispatcher: Dispatcher,
  message: unknown,
  transport: TransportName,
  baseMeta: RequestMeta,
  signal?: AbortSignal | AbortController,
): Promise<JsonRpcResponse | null> {
  if (!isObject(message)) {
    return jsonRpcError(null, new AppError("INVALID_REQUEST", "Invalid Request: expected an object"));
  }
  const hasId = "id" in message;
  const id = hasId && isValidId(message.id) ? message.id : null;
  if (hasId && !isValidId(message.id)) {
    return jsonRpcError(
      null,
      new AppError("INVALID_REQUEST", "Invalid Request: id must be a string, number or null"),
    );
  }
  if (message.jsonrpc !== "2.0") {
    return jsonRpcError(id, new AppError("INVALID_REQUEST", 'Invalid Request: jsonrpc must be "2.0"'));
  }
  if (typeof message.method !== "string" || message.method === "") {
    return jsonRpcError(
      id,
      new AppError("INVALID_REQUEST", "Invalid Request: method must be a non-empty string"),
    );
  }
  const { params } = message;
  if (params !== undefined && !isObject(params)) {
    // Every method takes named parameters; positional (array) params cannot be mapped.
    const err = new AppError("VALIDATION", "Invalid params: params must be an object of named parameters");
    return hasId ? jsonRpcError(id, err) : null;
  }
  try {
    const result = await dispatcher.call({
      method: message.method,
      params,
      transport,
      meta: readMeta(message.metadata, baseMeta),
      signal,
    });
    return hasId ? { jsonrpc: "2.0", id, result } : null;
  } catch (err) {
    return hasId ? jsonRpcError(id, toAppError(err)) : null;
  }
}

interface JsonRpcCall {
  transport: TransportName;
  /** Entries a batch may hold (RPC_BATCH_MAX): its calls run at once. */
  maxBatch: number;
  meta?: RequestMeta;
  signal?: AbortSignal | AbortController;
}

/**
 * Answers a parsed JSON-RPC body: one response, an array for a batch, or `null` when
 * nothing is to be sent back (a notification, or a batch of notifications only).
 */
export async function processJsonRpc(
  dispatcher: Dispatcher,
  body: unknown,
  { transport, maxBatch, meta: baseMeta = {}, signal }: JsonRpcCall,
): Promise<JsonRpcResponse | JsonRpcResponse[] | null> {
  if (!Array.isArray(body)) return processOne(dispatcher, body, transport, baseMeta, signal);
  if (body.length === 0) {
    return jsonRpcError(null, new AppError("INVALID_REQUEST", "Invalid Request: empty batch"));
  }
  if (body.length > maxBatch) {
    return jsonRpcError(
      null,
      new AppError(
        "INVALID_REQUEST",
        `Invalid Request: a batch of ${body.length} entries is over the limit of ${maxBatch} (RPC_BATCH_MAX); split it`,
        { limit: maxBatch, entries: body.length },
      ),
    );
  }
  const responses = await Promise.all(
    body.map((message) => processOne(dispatcher, message, transport, baseMeta, signal)),
  );
  const answered = responses.filter((r): r is JsonRpcResponse => r !== null);
  return answered.length > 0 ? answered : null;
}
