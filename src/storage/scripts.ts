import { readFileSync } from "node:fs";
import type { ChainableCommander, Redis } from "ioredis";
import type { Keys } from "./keys.js";

/**
 * The coordination scripts (task queue, instances, leadership, quorum, batches), one transition per file in ./lua (named verbNoun-<KEYS>.lua,
 * each with a header stating KEYS, ARGV and return codes), each prefixed with the shared
 * queue-prelude.lua. They are registered with ioredis' defineCommand, which sends EVALSHA
 * and falls back to EVAL when Redis does not know the script yet (NOSCRIPT).
 */

export const QUEUE_SCRIPTS = [
  "createTask",
  "claimTasks",
  "assignTask",
  "renewLease",
  "completeTask",
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

let sources: Map<QueueScript, string> | null = null;

/** Prelude + script text of every queue script (read once). */
export function queueScriptSources(): Map<QueueScript, string> {
  if (!sources) {
    const prelude = readLua("queue-prelude.lua");
    sources = new Map(QUEUE_SCRIPTS.map((name) => [name, `${prelude}\n${readLua(`${name}-1.lua`)}`]));
  }
  return sources;
}

const commandName = (script: QueueScript) => `cbQueue_${script}`;

type ScriptFn = (key: string, ...args: (string | number)[]) => Promise<unknown>;

/** Runs queue scripts on one connection with the common ARGV (base, source, event cap) filled in. */
export class QueueScripts {
  readonly #commands: Record<QueueScript, ScriptFn>;

  constructor(
    redis: Redis,
    private readonly keys: Keys,
    private readonly source: string,
    private readonly eventMaxLen: number,
  ) {
    const client = redis as unknown as Record<string, ScriptFn>;
    for (const [name, lua] of queueScriptSources()) {
      const command = commandName(name);
      if (typeof client[command] !== "function") redis.defineCommand(command, { numberOfKeys: 1, lua });
    }
    this.#commands = Object.fromEntries(
      QUEUE_SCRIPTS.map((name) => [name, (client[commandName(name)] as ScriptFn).bind(redis)]),
    ) as Record<QueueScript, ScriptFn>;
  }

  run(script: QueueScript, key: string, args: readonly (string | number)[] = []): Promise<unknown> {
    return this.#commands[script](key, ...this.#common(), ...args);
  }

  /** Queues a script on a pipeline (or MULTI) of the same connection, to send several in one round trip. */
  queue(
    pipeline: ChainableCommander,
    script: QueueScript,
    key: string,
    args: readonly (string | number)[] = [],
  ) {
    const command = (pipeline as unknown as Record<string, (...a: unknown[]) => unknown>)[
      commandName(script)
    ];
    command?.call(pipeline, key, ...this.#common(), ...args);
  }

  #common(): [string, string, number] {
    return [this.keys.queue.base, this.source, this.eventMaxLen];
  }
}
