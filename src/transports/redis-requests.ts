import type { Dispatcher } from "../core/dispatch.js";
import { AppError } from "../core/errors.js";
import { jsonRpcError, parseJson, processJsonRpc, UNPARSEABLE } from "./jsonrpc.js";

/**
 * The Redis request transport: JSON-RPC over the request stream. The stream itself (consumer
 * group, take-over, duplicate markers, reply lists) is storage's RequestStreamConsumer, which
 * the composition root hands the answerer made here.
 */

const TOO_LARGE = Symbol("too large");

/**
 * Answers one request entry's text like a `/rpc` body: the JSON-RPC response, or null for
 * notifications. Limits as over HTTP: MAX_BODY_BYTES per request (in UTF-16 units here),
 * RPC_BATCH_MAX per batch.
 */
export function answerStreamRequests(
  dispatcher: Dispatcher,
  { maxBatch, maxBodyBytes }: { maxBatch: number; maxBodyBytes: number },
) {
  return (request: string | undefined) => {
    const body = (request?.length ?? 0) > maxBodyBytes ? TOO_LARGE : parseJson(request ?? "");
    return body === TOO_LARGE
      ? jsonRpcError(
          null,
          new AppError("INVALID_REQUEST", `Request larger than ${maxBodyBytes} bytes (MAX_BODY_BYTES)`, {
            limit: maxBodyBytes,
          }),
        )
      : body === UNPARSEABLE
        ? jsonRpcError(null, new AppError("PARSE_ERROR", "Parse error: the request field is not JSON"))
        : processJsonRpc(dispatcher, body, { transport: "events", maxBatch });
  };
}
