import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Redis } from "ioredis";

/**
 * One Lua script from ./lua, sent with EVALSHA and, when Redis answers NOSCRIPT (first use,
 * or after a restart or SCRIPT FLUSH emptied its script cache), once more with EVAL, which
 * also caches it. Plain commands, unlike ioredis' defineCommand, add nothing to the
 * pipelines that auto-pipelining builds for every batch.
 */
export class LuaScript {
  readonly source: string;
  readonly sha: string;

  constructor(
    readonly file: string,
    readonly numberOfKeys: number,
  ) {
    this.source = readFileSync(new URL(`./lua/${file}`, import.meta.url), "utf8");
    this.sha = createHash("sha1").update(this.source).digest("hex");
  }

  async run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, this.numberOfKeys, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
      return redis.eval(this.source, this.numberOfKeys, ...keys, ...args);
    }
  }
}
