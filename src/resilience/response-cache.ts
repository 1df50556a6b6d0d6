import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import type { PolicyKeys } from "../storage/keys.js";
import { LuaScript } from "../storage/lua-script.js";

/**
 * Successful results of read-only methods that declare a cache, shared by every server
 * process, keyed by method and the validated input. Errors are never stored. A method's
 * entries are dropped at once by a successful call of a method that declares it in
 * `invalidates`; a result computed while such a write runs may still be stored afterwards and
 * served until its TTL ends, so TTLs are kept short.
 */

const CACHE_PUT = LuaScript.fromFile("cachePut-1.lua");
/** Entries per method before the method's cache is emptied and starts again. */
const MAX_ENTRIES = 1000;
const MISS = Symbol("miss");

export class ResponseCache {
  constructor(
    private readonly redis: Redis,
    private readonly keys: PolicyKeys,
    private readonly clock: () => number = Date.now,
  ) {}

  static readonly MISS: typeof MISS = MISS;

  static digest(input: unknown): string {
    return createHash("sha1")
      .update(JSON.stringify(input) ?? "")
      .digest("base64url");
  }

  async get(method: string, digest: string): Promise<unknown | typeof MISS> {
    const entry = await this.redis.hget(this.keys.cache(method), digest);
    if (!entry) return MISS;
    const bar = entry.indexOf("|");
    if (Number(entry.slice(0, bar)) <= this.clock()) return MISS;
    return JSON.parse(entry.slice(bar + 1));
  }

  /** Stores a result; not awaited by the caller, so failures are only logged by the caller. */
  put(method: string, digest: string, result: unknown, ttlMs: number): Promise<unknown> {
    const value = `${this.clock() + ttlMs}|${JSON.stringify(result)}`;
    return CACHE_PUT.run(this.redis, [this.keys.cache(method)], [digest, value, ttlMs, MAX_ENTRIES]);
  }

  invalidate(methods: readonly string[]): Promise<number> {
    return this.redis.del(...methods.map((m) => this.keys.cache(m)));
  }
}
