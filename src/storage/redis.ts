import { Redis, ReplyError } from "ioredis";
import { redactUrl } from "./redact-url.js";

/**
 * Redis connections, and how the server behaves while Redis is unreachable.
 *
 * The server's command connection fails a command at once when Redis cannot be reached, instead
 * of holding it in a queue and retrying for seconds: callers get UNAVAILABLE promptly (see
 * RedisLink). A command in flight when the connection drops fails too and is not sent again
 * (`maxRetriesPerRequest: 0`): its outcome is unknown, and a transition script sent twice would
 * run twice. Reconnection is tried every 50 ms, growing to every 500 ms, so the server is back
 * within about half a second of Redis.
 */

/** Delay before each reconnection attempt: 50 ms more each time, at most RECONNECT_MAX_MS. */
export const RECONNECT_MAX_MS = 500;
const retryStrategy = (attempt: number) => Math.min(attempt * 50, RECONNECT_MAX_MS);

/** ioredis' error for a command whose connection dropped (maxRetriesPerRequest: 0); its class is not exported. */
const DROPPED_IN_FLIGHT = "MaxRetriesPerRequestError";

/** The part of a logger RedisLink needs (pino's fits). */
interface LinkLog {
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
}

/**
 * Opens a Redis connection and waits until it is usable, with one clear error when the
 * server cannot be reached. Auto-pipelining batches concurrent commands into one write.
 */
export async function connectRedis(url: string, name: string): Promise<Redis> {
  const redis = new Redis(url, {
    connectionName: name,
    enableAutoPipelining: true,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy,
  });
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new Error(`cannot reach Redis at ${redactUrl(url)}: ${(err as Error).message}. Is it running?`);
  }
  return redis;
}

/**
 * A second connection for blocking commands (XREAD BLOCK, BLPOP), which hold their connection.
 * Its owner retries its own loop; connection errors are the RedisLink's to report.
 */
export async function blockingConnection(redis: Redis, name: string): Promise<Redis> {
  const conn = redis.duplicate({ connectionName: name, enableAutoPipelining: false, lazyConnect: true });
  quiet(conn);
  try {
    await conn.connect();
  } catch (err) {
    conn.disconnect(); // else it keeps trying to reconnect, for nobody
    throw err;
  }
  return conn;
}

/**
 * A connection whose errors are not reported on its own: without an `error` listener ioredis
 * prints "Unhandled error event" for every failed reconnection attempt. The server's command
 * connection (RedisLink) reports an outage once for all of them.
 */
export function quiet(conn: Redis): Redis {
  conn.on("error", () => undefined);
  return conn;
}

/**
 * Watches the server's command connection: logs one line when Redis becomes unreachable and
 * one when it is back (with how long it was away), and tells a failure caused by the outage
 * (the connection down, nothing answered) from an error Redis answered.
 */
export class RedisLink {
  #downSince: number | null = null;
  readonly #onError = (err: Error) => this.#down(err.message);
  readonly #onClose = () => this.#down("connection closed");
  readonly #onReady = () => this.#up();

  constructor(
    private readonly redis: Redis,
    private readonly log: LinkLog,
  ) {
    redis.on("error", this.#onError);
    redis.on("close", this.#onClose);
    redis.on("ready", this.#onReady);
  }

  /** Stops watching (before the server closes the connection itself), keeping an error listener. */
  stop(): void {
    this.redis.off("close", this.#onClose);
    this.redis.off("ready", this.#onReady);
    this.redis.off("error", this.#onError);
    quiet(this.redis);
  }

  /** Resolves with the round-trip time of one PING in ms; rejects when Redis does not answer. */
  async ping(): Promise<number> {
    const started = performance.now();
    await this.redis.ping();
    return performance.now() - started;
  }

  /**
   * Whether commands can be sent now. The socket stops being writable as soon as Redis goes
   * away, a moment before ioredis handles the close and leaves the "ready" status.
   */
  get up(): boolean {
    return this.redis.status === "ready" && this.redis.stream?.writable === true;
  }

  /**
   * Whether `err` is the outage rather than an answer of Redis: a command refused while the
   * connection is down, or failed because its connection (this one or another, such as a
   * blocking reader's, which may notice first) dropped while it was in flight.
   */
  isOutage(err: unknown): boolean {
    if (!(err instanceof Error) || err instanceof ReplyError) return false;
    if (err.name === DROPPED_IN_FLIGHT) return true;
    // ioredis refuses with plain Errors ("Stream isn't writeable", "Connection is closed");
    // a TypeError or RangeError is a bug, whatever the state of the connection.
    return !this.up && (err.constructor === Error || err.name === "AbortError");
  }

  #down(reason: string): void {
    if (this.#downSince !== null || this.up) return;
    this.#downSince = Date.now();
    this.log.warn(
      { reason, status: this.redis.status },
      "Redis is unreachable: calls are answered UNAVAILABLE until it is back",
    );
  }

  #up(): void {
    if (this.#downSince === null) return;
    const downMs = Date.now() - this.#downSince;
    this.#downSince = null;
    this.log.info({ downMs }, "Redis is reachable again");
  }
}
