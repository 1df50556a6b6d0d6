import { readFileSync } from "node:fs";
import type { ChainableCommander, Redis } from "ioredis";
import { expandKeyNames } from "./coordination-keys.js";
import type { Keys } from "./keys.js";
import { withPrelude } from "./lua-prelude.js";
import { execPipeline, LuaScript, type PipelineResults } from "./lua-script.js";

/**
 * The coordination scripts (task queue, instances, leadership, quorum, batches), one transition
 * per file in ./lua (named verbNoun-<KEYS>.lua, each with a header stating KEYS, ARGV and return
 * codes), each prefixed with the parts of the shared coordination-prelude.lua it uses and with its
 * key names written out (coordinationScriptSource). They are sent as
 * LuaScripts: EVALSHA, and EVAL when Redis does not know the script (NOSCRIPT).
 */
export const COORDINATION_SCRIPTS = [
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

export type CoordinationScript = (typeof COORDINATION_SCRIPTS)[number];

const LUA_DIR = new URL("./lua/", import.meta.url);
const readLua = (file: string) => readFileSync(new URL(file, LUA_DIR), "utf8");

/**
 * A coordination script as sent to Redis: the prelude's definitions it uses, then the script,
 * with its key names (`K.<name>`) written out as coordination-keys.ts defines them. Throws when
 * a name is not defined there, so a script that names a key TypeScript does not know fails at
 * start-up (and in the tests), not in Redis.
 */
export function coordinationScriptSource(prelude: string, script: string): string {
  return expandKeyNames(withPrelude(prelude, script));
}

let scripts: Map<CoordinationScript, LuaScript> | null = null;

/** Every coordination script, assembled once (coordinationScriptSource). */
export function coordinationLuaScripts(): ReadonlyMap<CoordinationScript, LuaScript> {
  if (!scripts) {
    const prelude = readLua("coordination-prelude.lua");
    scripts = new Map(
      COORDINATION_SCRIPTS.map((name) => [
        name,
        new LuaScript(name, coordinationScriptSource(prelude, readLua(`${name}-1.lua`))),
      ]),
    );
  }
  return scripts;
}

/** Runs coordination scripts on one connection with the common ARGV (base, source, event cap) filled in. */
export class CoordinationScripts {
  readonly #scripts = coordinationLuaScripts();

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly source: string,
    private readonly eventMaxLen: number,
  ) {}

  run(script: CoordinationScript, key: string, args: readonly (string | number)[] = []): Promise<unknown> {
    return this.#script(script).run(this.redis, [key], this.#args(args));
  }

  /**
   * Queues a script on a pipeline of the same connection, to send several in one round trip;
   * send it with `exec`. Not for MULTI (see LuaScript.queue).
   */
  queue(
    pipeline: ChainableCommander,
    script: CoordinationScript,
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

  #script(name: CoordinationScript): LuaScript {
    const script = this.#scripts.get(name);
    if (!script) throw new Error(`unknown coordination script ${name}`);
    return script;
  }

  #args(args: readonly (string | number)[]): (string | number)[] {
    return [this.keys.coordination.base, this.source, this.eventMaxLen, ...args];
  }
}
