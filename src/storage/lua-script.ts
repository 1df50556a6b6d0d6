import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { type ChainableCommander, Command, type Redis } from "ioredis";

/**
 * One Lua script, sent by its SHA1 (EVALSHA) and by its source (EVAL) only when Redis does not
 * know it (NOSCRIPT: first use, a restarted redis-server, SCRIPT FLUSH); the EVAL caches it again.
 *
 * Why not ioredis' defineCommand: every Pipeline ioredis builds copies each defined command onto
 * itself, and with auto-pipelining every batch of commands is a Pipeline — with the 24 queue
 * scripts that was ~30 µs of CPU per batch (docs/performance.md, "Task engine").
 */
export class LuaScript {
  readonly sha: string;

  constructor(
    /** For messages only. */
    readonly name: string,
    readonly source: string,
  ) {
    this.sha = createHash("sha1").update(source).digest("hex");
  }

  /** A script from ./lua (the file name is its name in messages). */
  static fromFile(file: string): LuaScript {
    return new LuaScript(file, readFileSync(new URL(`./lua/${file}`, import.meta.url), "utf8"));
  }

  run(redis: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    return evalsha(redis, [this.sha, keys.length, ...keys, ...args]).catch((err: unknown) => {
      if (!isNoScript(err)) throw err;
      return redis.eval(this.source, keys.length, ...keys, ...args);
    });
  }

  /**
   * Queues the script (EVALSHA) on a pipeline; send the pipeline with `execPipeline`, which runs
   * again what Redis did not know. Plain pipelines only: in a MULTI a script re-run after
   * NOSCRIPT would run outside the transaction.
   */
  queue(pipeline: ChainableCommander, keys: readonly string[], args: readonly (string | number)[]): void {
    let queued = queuedScripts.get(pipeline);
    if (!queued) {
      queued = [];
      queuedScripts.set(pipeline, queued);
    }
    queued.push({ index: pipeline.length, script: this, keys, args });
    pipeline.evalsha(this.sha, keys.length, ...keys, ...args);
  }

  /** Puts the script into Redis' script cache (SCRIPT LOAD), so that the first EVALSHA finds it. */
  async load(redis: Redis): Promise<void> {
    const sha = await redis.script("LOAD", this.source);
    if (sha !== this.sha)
      throw new Error(`SCRIPT LOAD of ${this.name} answered ${String(sha)}, not ${this.sha}`);
  }
}

interface QueuedScript {
  /** Position of its reply in the pipeline's results. */
  index: number;
  script: LuaScript;
  keys: readonly string[];
  args: readonly (string | number)[];
}

const queuedScripts = new WeakMap<ChainableCommander, QueuedScript[]>();

export type PipelineResults = [error: Error | null, result: unknown][];

/**
 * `pipeline.exec()`, except that a script queued with `LuaScript.queue` which failed with NOSCRIPT
 * (so it did not run) is run again on its own with `run` (EVAL fallback) and its answer replaces
 * the error. Each script stays atomic; only its order relative to the pipeline's other commands
 * can change, which callers that batch independent transitions do not depend on.
 */
export async function execPipeline(redis: Redis, pipeline: ChainableCommander): Promise<PipelineResults> {
  const queued = queuedScripts.get(pipeline) ?? [];
  queuedScripts.delete(pipeline);
  const results = ((await pipeline.exec()) ?? []) as PipelineResults;
  for (const { index, script, keys, args } of queued) {
    const [err] = results[index] ?? [];
    if (!isNoScript(err)) continue;
    try {
      results[index] = [null, await script.run(redis, keys, args)];
    } catch (retryErr) {
      results[index] = [retryErr as Error, null];
    }
  }
  return results;
}

/** Sockets corked by `evalsha` until their commands are written (see there). */
const corked = new WeakSet<object>();

/** Connections whose scripts are written once per turn of the event loop (see evalsha). */
const writtenPerTurn = new WeakSet<Redis>();

/**
 * From now on the scripts run on `redis` are written at the end of each turn of the event loop
 * instead of at the end of each tick. For a server: each request arrives in its own I/O
 * callback, so per tick is one write per request, and per turn is one write for all requests
 * handled in the turn. Each write is a syscall that wakes redis-server (~30–45 µs on a small
 * VM); at c=50 this took Redis writes from 3.0 to 0.5 per lifecycle, server CPU −11 % and
 * redis-server CPU −15 %. Not the default: a client whose bottleneck is Redis, not its own CPU,
 * gains from sending each connection's commands as soon as they are made, since Redis then works
 * on one connection's while this process handles the other's answers (ten claimers over two
 * connections: 0.76× BullMQ's throughput per tick, 0.65× per turn; docs/performance.md).
 */
export function writeScriptsPerTurn(redis: Redis): void {
  writtenPerTurn.add(redis);
}

/**
 * EVALSHA on `redis`, written without ioredis' auto-pipelining but batched: the socket is corked
 * until the end of the tick (or turn, see writeScriptsPerTurn), so every command sent until then
 * leaves in one write (writev). Auto-pipelining batches too, but builds a Pipeline and a promise
 * chain per batch, ~20 µs of CPU per batch here — at one request at a time, per command
 * (docs/performance.md). When commands wait in the auto-pipeline queue, the command joins them
 * instead, so nothing queued earlier is overtaken.
 */
function evalsha(redis: Redis, argv: (string | number)[]): Promise<unknown> {
  if (redis.autoPipelineQueueSize > 0) {
    const [sha, numKeys, ...rest] = argv as [string, number, ...(string | number)[]];
    return redis.evalsha(sha, numKeys, ...rest);
  }
  const stream = redis.stream;
  if (redis.status === "ready" && stream && !corked.has(stream)) {
    corked.add(stream);
    stream.cork();
    const write = () => {
      corked.delete(stream);
      stream.uncork();
    };
    if (writtenPerTurn.has(redis)) setImmediate(write);
    else process.nextTick(write);
  }
  const options = { replyEncoding: "utf8" as const, keyPrefix: redis.options.keyPrefix };
  return redis.sendCommand(new Command("evalsha", argv, options)) as Promise<unknown>;
}

const isNoScript = (err: unknown) => err instanceof Error && err.message.startsWith("NOSCRIPT");
