/**
 * The coordination keys (task queue, event stream, instances, leadership, servers, quorum,
 * batches), written once: TypeScript builds them from these definitions (`coordinationKeys`),
 * and the Lua scripts, which name them `K.pending`, `K.task(id)`, ..., get them written out
 * from the same definitions when the scripts are assembled (`expandKeyNames`, used by
 * storage/scripts.ts), so the two cannot disagree.
 *
 * Why generated rather than every key passed in KEYS (BullMQ's way): a transition touches keys
 * it learns only inside the script — the tasks it pops from an index, each task's status set
 * and worker set, the minute's counter — so the scripts must build names. They get one base
 * (ARGV[1]) and build every name from it; generating the names keeps that, and leaves
 * TypeScript the only place a name is spelled. Every name starts with the base
 * `<prefix>:{tasks}:`, so all of them share one hash tag: one Redis Cluster slot, which a
 * multi-key script needs.
 */

/** Single keys: name → the text after the base. */
export const COORDINATION_KEYS = {
  /** Counter: task ids (t-<seq>) and FIFO order. */
  seq: "seq",
  /** Counter: lease tokens (fencing epoch, only grows). */
  fence: "fence",
  /** Zset: claimable tasks, score = (100 - priority) * 2^40 + seq (best first). */
  pending: "pending",
  /** Zset: pending tasks not yet due (delay, retry backoff), score = due time ms. */
  delayed: "delayed",
  /** Zset: pending tasks that expire, score = expiry time ms. */
  ttl: "ttl",
  /** Zset: in-progress tasks, score = lease expiry ms. */
  leases: "leases",
  /** Zset: dead-lettered tasks, score = time. */
  dead: "dead",
  /** Zset: completed/failed/cancelled tasks, score = time (for retention). */
  finished: "finished",
  /** Zset: every task by seq. */
  all: "all",
  /**
   * Set: every worker that may hold tasks: added by each lease, pruned by reapLeases (a worker
   * whose `worker` set is empty) rather than on each completion, which saves two calls per
   * task; readers skip members holding nothing.
   */
  workers: "workers",
  /**
   * Lists: recent wait (created → claimed) and run (claimed → done) times in ms, newest first;
   * the first SAMPLE_KEEP + 1 are the samples (trimmed in steps, see add_sample in the prelude).
   */
  statWait: "stat:wait",
  statRun: "stat:run",
  /** Stream: domain events, payload = JSON { task = <hash>, ... }; also the persistence outbox. */
  events: "events",
  /** Zset: live instances (agents, workers, sessions), id → last heartbeat ms. */
  instances: "instances",
  /** Zset: every instance with a record (live or recently gone) → registration time. */
  instancesAll: "instances:all",
  /** Set: live instances that asked for pushed work. */
  autoAssign: "autoassign",
  /** Leadership among server processes: '<owner>|<epoch>' (string, expires). */
  leader: "leader",
  /** Counter: the leadership epoch. */
  leaderEpoch: "leader:epoch",
  /** Server processes: zset id → last beat. */
  servers: "servers",
} as const;

/**
 * Key families, one key per member: name → the text after the base, `<id>` standing for the
 * member (a task id, a worker id, a minute, ...).
 */
export const COORDINATION_KEY_FAMILIES = {
  /** Hash: one task (all values strings; absent fields are unset). */
  task: "t:<id>",
  /** Zset: the `pending` order of the tasks of one channel. */
  channel: "pending:ch:<id>",
  /** Zset: tasks in a status, by seq. */
  status: "st:<id>",
  /** Set: task ids a worker holds. */
  worker: "w:<id>",
  /** String: the task id created with an idempotency key. */
  idempotency: "idem:<id>",
  /** Counter: completions in that minute (expires). */
  completionsInMinute: "stat:done:<id>",
  /** Counter: tasks that became failed in that minute (dead-lettered or expired; expires). */
  failuresInMinute: "stat:failed:<id>",
  /** Hash: a registered instance (agent, worker, session). */
  instance: "inst:<id>",
  /** The instance another name of it means (the original hook bridge's name of a session → `cc-<session id>`; string, expires). */
  instanceAlias: "inst-alias:<id>",
  /** Hash: one decision's votes, voter → value (expires). */
  quorum: "quorum:<id>",
  /** String: the value a decision reached (expires). */
  quorumResult: "quorum:<id>:result",
  /** Hash: one batch's items and progress. */
  batch: "batch:<id>",
  /** Hash: one server process (url, view of the others, partition flag). */
  server: "server:<id>",
  /** A server process's published call statistics (for cluster-wide metrics). */
  serverMetrics: "metrics:<id>",
  /** String: one TodoWrite list's todos and the tasks they map to (JSON, expires). */
  todoList: "todos:<id>",
  /** String: the owner applying a TodoWrite to that list now (expires). */
  todoListLock: "todos:<id>:lock",
} as const;

type SingleName = keyof typeof COORDINATION_KEYS;
type FamilyName = keyof typeof COORDINATION_KEY_FAMILIES;

export type CoordinationKeys = {
  /** `<prefix>:{tasks}:`, passed to every coordination script as ARGV[1]. */
  readonly base: string;
} & { readonly [N in SingleName]: string } & {
  readonly [N in FamilyName]: (member: string | number) => string;
};

const MEMBER = "<id>";

/** A family's text before and after the member. */
function familyParts(name: FamilyName): [before: string, after: string] {
  const [before = "", after = ""] = COORDINATION_KEY_FAMILIES[name].split(MEMBER);
  return [before, after];
}

/** The coordination keys under `base` (`<prefix>:{tasks}:`). */
export function coordinationKeys(base: string): CoordinationKeys {
  const keys: Record<string, string | ((member: string | number) => string)> = { base };
  for (const [name, text] of Object.entries(COORDINATION_KEYS)) keys[name] = `${base}${text}`;
  for (const name of Object.keys(COORDINATION_KEY_FAMILIES) as FamilyName[]) {
    const [before, after] = familyParts(name);
    keys[name] = (member) => `${base}${before}${member}${after}`;
  }
  return keys as CoordinationKeys;
}

const isSingle = (name: string): name is SingleName => Object.hasOwn(COORDINATION_KEYS, name);
const isFamily = (name: string): name is FamilyName => Object.hasOwn(COORDINATION_KEY_FAMILIES, name);

/** A Lua string literal of a key's text (the texts hold no quote or backslash: checked by a test). */
const luaString = (text: string) => `'${text}'`;

/** Comments and strings (kept as written), or a key name `K.<name>` with the `(` of a call. */
const LUA_TOKEN =
  /--\[(=*)\[[\s\S]*?\]\1\]|--[^\n]*|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"|\bK\.(\w+)(\s*\()?/g;

/**
 * Lua code with its key names written out: `K.pending` becomes `(BASE .. 'pending')` and
 * `K.task(id)` becomes `(BASE .. 't:' .. (id))`, from the definitions above (comments and
 * strings are left as they are). Scripts name keys as TypeScript does, and what Redis runs is
 * what was once written by hand: expanding when the scripts are assembled costs nothing per
 * call, where a key table built in the script would (a table and a closure per family on every
 * call: ~5 % more instructions per task lifecycle, measured). Throws on a name that is not
 * defined here, a family not called with its member, or a single key called.
 */
export function expandKeyNames(lua: string): string {
  const token = new RegExp(LUA_TOKEN.source, "g");
  let out = "";
  let copied = 0;
  for (let match = token.exec(lua); match; match = token.exec(lua)) {
    const [, , name, call] = match;
    if (name === undefined) continue;
    out += lua.slice(copied, match.index);
    copied = token.lastIndex;
    if (isSingle(name) && !call) {
      out += `(BASE .. ${luaString(COORDINATION_KEYS[name])})`;
    } else if (isFamily(name) && call) {
      const close = closingParenthesis(lua, token.lastIndex);
      const member = expandKeyNames(lua.slice(token.lastIndex, close));
      const [before, after] = familyParts(name);
      out += `(BASE .. ${luaString(before)} .. (${member})${after === "" ? "" : ` .. ${luaString(after)}`})`;
      copied = close + 1;
      token.lastIndex = copied;
    } else if (isSingle(name) || isFamily(name)) {
      throw new Error(
        `K.${name} is ${isFamily(name) ? `a key family: K.${name}(member)` : "one key, not a function"}`,
      );
    } else {
      throw new Error(`K.${name} is not a coordination key (storage/coordination-keys.ts defines them)`);
    }
  }
  return out + lua.slice(copied);
}

/** The index of the `)` closing the call whose arguments start at `from` (skipping strings). */
function closingParenthesis(lua: string, from: number): number {
  let depth = 1;
  for (let i = from; i < lua.length; i++) {
    const c = lua[i];
    if (c === "'" || c === '"') {
      i = lua.indexOf(c, i + 1);
      if (i < 0) break;
    } else if (c === "(") depth++;
    else if (c === ")" && --depth === 0) return i;
  }
  throw new Error(`unclosed key family call in: ${lua.slice(from - 20, from + 40)}`);
}
