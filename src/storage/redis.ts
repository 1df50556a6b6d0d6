import { Redis } from "ioredis";
import { redactUrl } from "../core/redact-url.js";

/**
 * Opens a Redis connection and waits until it is usable, with one clear error when the
 * server cannot be reached. Auto-pipelining batches concurrent commands into one write.
 */
export async function connectRedis(url: string, name: string): Promise<Redis> {
  const redis = new Redis(url, {
    connectionName: name,
    enableAutoPipelining: true,
    maxRetriesPerRequest: 3,
    lazyConnect: true,
  });
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new Error(`cannot reach Redis at ${redactUrl(url)}: ${(err as Error).message}. Is it running?`);
  }
  return redis;
}

/** A second connection for blocking commands (XREAD BLOCK, BLPOP), which hold their connection. */
export async function blockingConnection(redis: Redis, name: string): Promise<Redis> {
  const conn = redis.duplicate({ connectionName: name, enableAutoPipelining: false, lazyConnect: true });
  await conn.connect();
  return conn;
}
