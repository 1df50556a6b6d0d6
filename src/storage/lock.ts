import type { Redis } from "ioredis";
import { LuaScript } from "./lua-script.js";

/**
 * A lock with an owner and a time to live, taken and extended by one script
 * (acquireLock-1.lua) and released only by its owner (releaseLock-1.lua). Sent as plain
 * EVALSHA (LuaScript), not defineCommand: a command defined on a connection while
 * auto-pipelined commands are in flight breaks ioredis' pipelines ("pipeline[functionName] is
 * not a function"), and locks are made at any time (a subscription's partition leases).
 */

const ACQUIRE = LuaScript.fromFile("acquireLock-1.lua");
const RELEASE = LuaScript.fromFile("releaseLock-1.lua");

export class OwnedLock {
  constructor(
    private readonly redis: Redis,
    readonly key: string,
    readonly owner: string,
  ) {}

  /** True when the caller holds the lock for `ttlMs` from now. */
  async acquire(ttlMs: number): Promise<boolean> {
    return Number(await ACQUIRE.run(this.redis, [this.key], [this.owner, ttlMs])) === 1;
  }

  async release(): Promise<boolean> {
    return Number(await RELEASE.run(this.redis, [this.key], [this.owner])) === 1;
  }
}
