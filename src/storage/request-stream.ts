import type { Redis } from "ioredis";
import type { Logger } from "../core/logger.js";
import type { Keys } from "./keys.js";
import { blockingConnection } from "./redis.js";

/**
 * The Redis side of the request transport. A caller appends `{ request: <JSON-RPC JSON>,
 * replyTo?: <id> }` to the request stream; the consumer group hands each entry to exactly one
 * server process, whose `answer` (the JSON-RPC transport, transports/redis-requests.ts)
 * executes it like a `/rpc` call; when a reply is due it is pushed on the list
 * `keys.rpcReply(replyTo)` (expiring after REPLY_TTL_S) for the caller to BLPOP.
 *
 * Recovery and duplicates: entries a dead consumer left unacknowledged for `claimIdleMs` are
 * taken over (XAUTOCLAIM) by a live one. Each request is executed at most once per
 * `replyTo` (else per entry): a marker set with NX before execution turns into the stored
 * reply afterwards, so a redelivery or a client's resend of the same `replyTo` gets that
 * reply instead of a second execution. (A request still running after CLAIM_IDLE_MS, when its
 * marker lapses after claimIdleMs, may run again: handlers' timeouts keep executions shorter than that.)
 */

const REPLY_TTL_S = 60;
const BLOCK_MS = 2000;
const BATCH = 32;
/** How long a finished request's reply is kept to answer a resend with the same replyTo. */
const DONE_TTL_MS = 600_000;
/** Reply ids become part of a key name: keep them to a safe alphabet. */
const REPLY_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Answers the text of one request's `request` field (undefined when the entry has none): the
 * JSON-RPC response (or a promise of it) to send back as JSON, or null when none is due.
 */
type RequestAnswerer = (request: string | undefined) => unknown;

export class RequestStreamConsumer {
  #stopped = false;
  #conn: Redis | null = null;
  #loop: Promise<void> | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly consumerName: string,
    private readonly log: Logger,
    private readonly settings: { claimIdleMs: number },
    private readonly answer: RequestAnswerer,
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
    let lastClaim = Date.now();
    while (!this.#stopped) {
      if (Date.now() - lastClaim > this.settings.claimIdleMs / 3) {
        lastClaim = Date.now();
        await this.#takeOverAbandoned(key);
      }
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
      await this.#executeAll(key, batch?.[0]?.[1] ?? []);
    }
  }

  /** Requests delivered to a consumer that died before acknowledging them. */
  async #takeOverAbandoned(key: string): Promise<void> {
    try {
      const [, entries] = (await this.redis.xautoclaim(
        key,
        this.keys.rpcGroup,
        this.consumerName,
        this.settings.claimIdleMs,
        "0-0",
        "COUNT",
        BATCH,
      )) as [string, [string, string[] | null][]];
      const live = entries.filter((e): e is [string, string[]] => e[1] !== null);
      if (live.length > 0)
        this.log.warn({ count: live.length }, "took over requests of a consumer that went away");
      await this.#executeAll(key, live);
    } catch (err) {
      if (!this.#stopped) this.log.warn({ err }, "taking over abandoned requests failed");
    }
  }

  #executeAll(key: string, entries: [string, string[]][]): Promise<unknown> {
    return Promise.all(
      entries.map(([id, fields]) =>
        // Left un-acknowledged on failure: the entry stays pending for recovery.
        this.#execute(key, id, fields).catch((err) =>
          this.log.error({ err, entryId: id }, "request not answered"),
        ),
      ),
    );
  }

  async #execute(key: string, entryId: string, fields: string[]): Promise<void> {
    let request: string | undefined;
    let replyTo: string | undefined;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === "request") request = fields[i + 1];
      else if (fields[i] === "replyTo") replyTo = fields[i + 1];
    }
    const canReply = replyTo !== undefined && REPLY_ID.test(replyTo);
    const marker = this.keys.rpcSeen(canReply ? `r:${replyTo}` : `e:${entryId}`);
    const fresh = await this.redis.set(marker, "running", "PX", this.settings.claimIdleMs, "NX");
    let reply: string | null = null;
    if (fresh === null) {
      // A duplicate: answered before (repeat that answer), or running elsewhere (leave it be).
      const seen = await this.redis.get(marker);
      if (seen === "running") return;
      reply = seen?.startsWith("done:") ? seen.slice(5) : null;
    } else {
      const response = await this.answer(request);
      reply = response === null ? null : JSON.stringify(response);
    }
    const tx = this.redis.multi();
    // Without a replyTo only a redelivery can repeat the entry, within about claimIdleMs.
    tx.set(marker, `done:${reply ?? ""}`, "PX", canReply ? DONE_TTL_MS : this.settings.claimIdleMs * 2);
    if (reply && canReply) {
      const replyKey = this.keys.rpcReply(replyTo as string);
      tx.lpush(replyKey, reply).expire(replyKey, REPLY_TTL_S);
    }
    tx.xack(key, this.keys.rpcGroup, entryId).xdel(key, entryId);
    await tx.exec();
  }
}
