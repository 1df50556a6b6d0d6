import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

let counter = 0;
/** A key prefix no other test uses. */
export const uniquePrefix = (label = "t") => `${label}${process.pid}x${++counter}`;
