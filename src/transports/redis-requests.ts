import type { Redis } from "ioredis";
import type { Dispatcher } from "../core/dispatch.js";
import { AppError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import type { Keys } from "../storage/keys.js";
import { blockingConnection } from "../storage/redis.js";
import { jsonRpcError, parseJson, processJsonRpc, UNPARSEABLE } from "./jsonrpc.js";

/**
 * The Redis request transport. A caller appends `{ request: <JSON-RPC JSON>, replyTo?: <id> }`
 * to the request stream; the consumer group hands each entry to exactly one server process,
 * which executes it like a `/rpc` call and, when a reply is due, pushes it on the list
 * `keys.rpcReply(replyTo)` (expiring after REPLY_TTL_S) for the caller to BLPOP.
 */

const REPLY_TTL_S = 60;
const BLOCK_MS = 2000;
const BATCH = 32;
/** Reply ids become part of a key name: keep them to a safe alphabet. */
export const REPLY_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export class RedisRequestConsumer {
  #stopped = false;
  #conn: Redis | null = null;
  #loop: Promise<void> | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly dispatcher: Dispatcher,
    private readonly consumerName: string,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    try {
      // From "0": requests queued before any server existed are served too.
      await this.redis.xgroup("CREATE", this.keys.rpcRequests(), this.keys.rpcGroup, "0", "MKSTREAM");
    } catch (err) {
      if (!String((err as Error).message).includes("BUSYGROUP")) throw err;
    }
    this.#conn = await blockingConnection(this.redis, `${this.consumerName}:requests`);
    this.#loop = this.#run(this.#conn);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#conn?.disconnect();
    await this.#loop;
  }

  async #run(conn: Redis): Promise<void> {
    const key = this.keys.rpcRequests();
    while (!this.#stopped) {
      let batch: [string, [string, string[]][]][] | null;
      try {
        batch = (await conn.xreadgroup(
          "GROUP",
          this.keys.rpcGroup,
          this.consumerName,
          "COUNT",
          BATCH,
          "BLOCK",
          BLOCK_MS,
          "STREAMS",
          key,
          ">",
        )) as [string, [string, string[]][]][] | null;
      } catch (err) {
        if (this.#stopped) return;
        this.log.warn({ err }, "reading the request stream failed; retrying");
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      const entries = batch?.[0]?.[1] ?? [];
      await Promise.all(
        entries.map(([id, fields]) =>
          // Left un-acknowledged on failure: the entry stays pending for recovery.
          this.#execute(key, id, fields).catch((err) =>
            this.log.error({ err, entryId: id }, "request not answered"),
          ),
        ),
      );
    }
  }

  async #execute(key: string, entryId: string, fields: string[]): Promise<void> {
    let request: string | undefined;
    let replyTo: string | undefined;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === "request") request = fields[i + 1];
      else if (fields[i] === "replyTo") replyTo = fields[i + 1];
    }
    const body = parseJson(request ?? "");
    const response =
      body === UNPARSEABLE
        ? jsonRpcError(null, new AppError("PARSE_ERROR", "Parse error: the request field is not JSON"))
        : await processJsonRpc(this.dispatcher, body, "events");
    const tx = this.redis.multi();
    if (response !== null && replyTo && REPLY_ID.test(replyTo)) {
      const replyKey = this.keys.rpcReply(replyTo);
      tx.lpush(replyKey, JSON.stringify(response)).expire(replyKey, REPLY_TTL_S);
    }
    tx.xack(key, this.keys.rpcGroup, entryId).xdel(key, entryId);
    await tx.exec();
  }
}
