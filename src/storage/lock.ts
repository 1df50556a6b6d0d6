import { readFileSync } from "node:fs";
import type { Redis } from "ioredis";
import { LuaScript } from "./lua-script.js";

/**
 * A lock with an owner and a time to live, taken and extended by one script
 * (acquireLock-1.lua) and released only by its owner (releaseLock-1.lua).
 */

const lua = (name: string) =>
  new LuaScript(name, readFileSync(new URL(`./lua/${name}-1.lua`, import.meta.url), "utf8"));
const ACQUIRE = lua("acquireLock");
const RELEASE = lua("releaseLock");

export class OwnedLock {
  constructor(
    private readonly redis: Redis,
    readonly key: string,
    readonly owner: string,
  ) {}

  /** True when the caller holds the lock for `ttlMs` from now. */
  async acquire(ttlMs: number): Promise<boolean> {
    return (await ACQUIRE.run(this.redis, [this.key], [this.owner, ttlMs])) === 1;
  }

  async release(): Promise<boolean> {
    return (await RELEASE.run(this.redis, [this.key], [this.owner])) === 1;
  }
}
