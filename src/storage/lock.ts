import { readFileSync } from "node:fs";
import type { Redis } from "ioredis";

/**
 * A lock with an owner and a time to live, taken and extended by one script
 * (acquireLock-1.lua) and released only by its owner (releaseLock-1.lua).
 */

const lua = (file: string) => readFileSync(new URL(`./lua/${file}`, import.meta.url), "utf8");
const ACQUIRE = lua("acquireLock-1.lua");
const RELEASE = lua("releaseLock-1.lua");

type LockClient = Redis & {
  cbAcquireLock(key: string, owner: string, ttlMs: number): Promise<number>;
  cbReleaseLock(key: string, owner: string): Promise<number>;
};

export class OwnedLock {
  readonly #redis: LockClient;

  constructor(
    redis: Redis,
    readonly key: string,
    readonly owner: string,
  ) {
    const client = redis as LockClient;
    if (typeof client.cbAcquireLock !== "function") {
      redis.defineCommand("cbAcquireLock", { numberOfKeys: 1, lua: ACQUIRE });
      redis.defineCommand("cbReleaseLock", { numberOfKeys: 1, lua: RELEASE });
    }
    this.#redis = client;
  }

  /** True when the caller holds the lock for `ttlMs` from now. */
  async acquire(ttlMs: number): Promise<boolean> {
    return (await this.#redis.cbAcquireLock(this.key, this.owner, ttlMs)) === 1;
  }

  async release(): Promise<boolean> {
    return (await this.#redis.cbReleaseLock(this.key, this.owner)) === 1;
  }
}
