import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  AppError,
  ERROR_CODES,
  errorPayload,
  HTTP_STATUS,
  JSONRPC_CODES,
  toAppError,
} from "../../src/core/errors.js";

describe("error tables", () => {
  it("maps every code on every transport", () => {
    for (const code of ERROR_CODES) {
      assert.equal(typeof JSONRPC_CODES[code], "number", code);
      assert.equal(typeof HTTP_STATUS[code], "number", code);
    }
  });

  it("keeps the original ClaudeBench's JSON-RPC codes and the spec's", () => {
    assert.equal(JSONRPC_CODES.PARSE_ERROR, -32700);
    assert.equal(JSONRPC_CODES.INVALID_REQUEST, -32600);
    assert.equal(JSONRPC_CODES.METHOD_NOT_FOUND, -32601);
    assert.equal(JSONRPC_CODES.VALIDATION, -32602);
    assert.equal(JSONRPC_CODES.INTERNAL, -32603);
    assert.equal(JSONRPC_CODES.RATE_LIMITED, -32000);
    assert.equal(JSONRPC_CODES.CIRCUIT_OPEN, -32001);
    assert.equal(JSONRPC_CODES.UNAUTHORIZED, -32002);
    assert.equal(JSONRPC_CODES.HOOK_BLOCKED, -32003);
    assert.equal(JSONRPC_CODES.NOT_FOUND, -32004);
    assert.equal(JSONRPC_CODES.TIMEOUT, -32005);
    assert.equal(JSONRPC_CODES.CONFLICT, -32009);
    assert.equal(JSONRPC_CODES.LEASE_LOST, -32009);
    assert.equal(JSONRPC_CODES.QUEUE_FULL, -32010);
    assert.equal(JSONRPC_CODES.UNAVAILABLE, -32011);
    assert.equal(JSONRPC_CODES.SESSION_NOT_FOUND, -32012);
  });

  it("gives HTTP statuses that say what happened", () => {
    assert.equal(HTTP_STATUS.VALIDATION, 400);
    assert.equal(HTTP_STATUS.UNAUTHORIZED, 401);
    assert.equal(HTTP_STATUS.NOT_FOUND, 404);
    assert.equal(HTTP_STATUS.SESSION_NOT_FOUND, 404);
    assert.equal(HTTP_STATUS.CONFLICT, 409);
    assert.equal(HTTP_STATUS.LEASE_LOST, 409);
    assert.equal(HTTP_STATUS.RATE_LIMITED, 429);
    assert.equal(HTTP_STATUS.INTERNAL, 500);
    assert.equal(HTTP_STATUS.CIRCUIT_OPEN, 503);
    assert.equal(HTTP_STATUS.TIMEOUT, 504);
  });

  it("carries the stable code in the payload so -32009 CONFLICT and LEASE_LOST differ", () => {
    const payload = errorPayload(new AppError("LEASE_LOST", "lease lost", { taskId: "t-1" }));
    assert.deepEqual(payload, { message: "lease lost", data: { code: "LEASE_LOST", taskId: "t-1" } });
  });

  it("turns unknown exceptions into INTERNAL without their message", () => {
    const err = toAppError(new Error("password=hunter2 at /secret/path"));
    assert.equal(err.code, "INTERNAL");
    assert.equal(err.message, "Internal error");
    const same = new AppError("CONFLICT", "x");
    assert.equal(toAppError(same), same);
  });
});
