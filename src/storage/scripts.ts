import { readFileSync } from "node:fs";
import type { ChainableCommander, Redis } from "ioredis";
import type { Keys } from "./keys.js";
import { withPrelude } from "./lua-prelude.js";
import { execPipeline, LuaScript, type PipelineResults } from "./lua-script.js";

/**
 * The coordination scripts (task queue, instances, leadership, quorum, batches), one transition
 * per file in ./lua (named verbNoun-<KEYS>.lua, each with a header stating KEYS, ARGV and return
 * codes), each prefixed with the parts of the shared queue-prelude.lua it uses (withPrelude).
 * They are sent as LuaScripts: EVALSHA, and EVAL when Redis does not know the script (NOSCRIPT).
 */
export const QUEUE_SCRIPTS = [
  "createTask",
  "claimTasks",
  "assignTask",
  "renewLease",
  "completeTask",
  "completeAndClaim",
  "failTask",
  "releaseTask",
  "cancelTask",
  "deleteTask",
  "retryTask",
  "updateTask",
  "reapLeases",
  "promoteDelayed",
  "expireTasks",
  "archiveFinished",
  "registerInstance",
  "heartbeatInstance",
  "unregisterInstance",
  "failInstance",
  "acquireLeadership",
  "quorumVote",
  "claimBatchItems",
  "completeBatchItems",
  "autoAssign",
] as const;

export type QueueScript = (typeof QUEUE_SCRIPTS)[number];

const LUA_DIR = new URL("./lua/", import.meta.url);
const readLua = (file: string) => readFileSync(new URL(file, LUA_DIR), "utf8");

let scripts: Map<QueueScript, LuaScript> | null = null;

/** Every queue script: the prelude's parts it uses + script text (read once). */
export function queueLuaScripts(): ReadonlyMap<QueueScript, LuaScript> {
  if (!scripts) {
    const prelude = readLua("queue-prelude.lua");
    scripts = new Map(
      QUEUE_SCRIPTS.map((name) => [
        name,
        new LuaScript(name, withPrelude(prelude, readLua(`${name}-1.lua`))),
      ]),
    );
  }
  return scripts;
}

/** Runs queue scripts on one connection with the common ARGV (base, source, event cap) filled in. */
export class QueueScripts {
  readonly #scripts = queueLuaScripts();

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly source: string,
    private readonly eventMaxLen: number,
  ) {}

  run(script: QueueScript, key: string, args: readonly (string | number)[] = []): Promise<unknown> {
    return this.#script(script).run(this.redis, [key], this.#args(args));
  }

  /**
   * Queues a script on a pipeline of the same connection, to send several in one round trip;
   * send it with `exec`. Not for MULTI (see LuaScript.queue).
   */
  queue(
    pipeline: ChainableCommander,
    script: QueueScript,
    key: string,
    args: readonly (string | number)[] = [],
  ): void {
    this.#script(script).queue(pipeline, [key], this.#args(args));
  }

  /** Sends a pipeline holding queued scripts; one that Redis did not know is sent again with its source. */
  exec(pipeline: ChainableCommander): Promise<PipelineResults> {
    return execPipeline(this.redis, pipeline);
  }

  /** Loads every script into Redis' script cache (one round trip), so that first calls need no EVAL. */
  async load(): Promise<void> {
    const pipeline = this.redis.pipeline();
    for (const script of this.#scripts.values()) pipeline.script("LOAD", script.source);
    const results = (await pipeline.exec()) ?? [];
    for (const [err] of results) if (err) throw err;
  }

  #script(name: QueueScript): LuaScript {
    const script = this.#scripts.get(name);
    if (!script) throw new Error(`unknown queue script ${name}`);
    return script;
  }

  #args(args: readonly (string | number)[]): (string | number)[] {
    return [this.keys.queue.base, this.source, this.eventMaxLen, ...args];
  }
}
