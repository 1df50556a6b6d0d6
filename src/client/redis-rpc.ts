import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import type { JsonRpcResponse } from "../contract/jsonrpc.js";
import { type RequestStreamKeys, requestStreamKeys } from "../contract/request-stream.js";

/**
 * Calls a ClaudeBench cluster through Redis alone: the request goes on the request stream,
 * exactly one server executes it, and the reply comes back on a private list that this
 * client waits on with BLPOP (one blocking connection per call in flight, pooled).
 */
export class RedisRpcClient {
  readonly #redis: Redis;
  readonly #keys: RequestStreamKeys;
  readonly #idle: Redis[] = [];
  readonly #all = new Set<Redis>();
  #nextId = 0;

  constructor(url: string, keyPrefix = "cb") {
    this.#redis = new Redis(url, { enableAutoPipelining: true });
    this.#keys = requestStreamKeys(keyPrefix);
  }

  /** Sends a request and waits for its reply (a JSON-RPC response, success or error). */
  async call(method: string, params: unknown = {}, timeoutMs = 10_000): Promise<JsonRpcResponse> {
    const replyTo = randomUUID();
    const request = { jsonrpc: "2.0", id: ++this.#nextId, method, params };
    await this.send(request, replyTo);
    const conn = this.#idle.pop() ?? this.#open();
    try {
      const reply = await conn.blpop(this.#keys.rpcReply(replyTo), timeoutMs / 1000);
      if (!reply)
        throw new Error(`no reply to ${method} within ${timeoutMs} ms: is a server running on this Redis?`);
      return JSON.parse(reply[1]) as JsonRpcResponse;
    } finally {
      this.#idle.push(conn);
    }
  }

  /** Appends a raw request entry (any JSON-RPC body, or a notification without `replyTo`). */
  async send(request: unknown, replyTo?: string): Promise<void> {
    const fields = ["request", typeof request === "string" ? request : JSON.stringify(request)];
    if (replyTo) fields.push("replyTo", replyTo);
    await this.#redis.xadd(this.#keys.rpcRequests(), "MAXLEN", "~", 100_000, "*", ...fields);
  }

  async close(): Promise<void> {
    await Promise.all([this.#redis, ...this.#all].map((c) => c.quit().catch(() => undefined)));
  }

  #open(): Redis {
    const conn = this.#redis.duplicate({ enableAutoPipelining: false });
    this.#all.add(conn);
    return conn;
  }
}
