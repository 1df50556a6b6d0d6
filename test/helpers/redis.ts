import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { Redis, type RedisOptions } from "ioredis";
import { type EmbeddedRedis, startEmbeddedRedis } from "../../src/storage/embedded-redis.js";

/**
 * A private redis-server for one test file, on a free port, in a temporary directory, with
 * no persistence. Tests inside the file isolate themselves further by a unique key prefix.
 */
export interface TestRedis {
  readonly url: string;
  readonly port: number;
  /** redis-server's own pid (e.g. to read its CPU time from /proc). */
  readonly pid: number;
  stop(): Promise<void>;
}

export async function startTestRedis(): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), "cb-test-redis-"));
  const redis: EmbeddedRedis = await startEmbeddedRedis({ dataDir: dir, appendOnly: false });
  return {
    url: redis.url,
    port: redis.port,
    pid: redis.pid,
    stop: async () => {
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What `useTestRedis` hands a file: its private redis-server and a connection to it. */
export interface TestRedisConnection {
  server: TestRedis;
  redis: Redis;
}

/**
 * The setup most files share: a private redis-server and one connection to it, started before
 * the tests of the enclosing file (or describe) and closed after them. `bind` receives both once
 * started, to assign them to the file's own variables. Node runs `after` hooks in the order
 * they were registered: a file that must close its servers before Redis stops registers that
 * hook before calling this.
 */
export function useTestRedis(bind: (started: TestRedisConnection) => void, options: RedisOptions = {}): void {
  let server: TestRedis | undefined;
  let redis: Redis | undefined;
  before(async () => {
    server = await startTestRedis();
    redis = new Redis(server.url, options);
    bind({ server, redis });
  });
  after(async () => {
    redis?.disconnect();
    await server?.stop();
  });
}

let counter = 0;
/** A key prefix no other test uses. */
export const uniquePrefix = (label = "t") => `${label}${process.pid}x${++counter}`;
