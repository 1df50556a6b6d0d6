import assert from "node:assert/strict";
import type { Redis } from "ioredis";
import type { DomainEvent } from "../../src/contract/events.js";
import { parseEventEntry } from "../../src/domain/events/event-log.js";
import { createKeys, type Keys } from "../../src/storage/keys.js";
import { freePort, runCli, type SpawnedCli, waitFor } from "./cli.js";
import { uniquePrefix } from "./redis.js";

/**
 * Groups of real `claudebench serve` processes sharing one Redis and one key prefix (one
 * cluster), for the end-to-end cluster tests, with the polling helpers they use.
 */

/**
 * Fast coordination: agents fail after 2 s of silence, a tick every 200 ms, a leader term of
 * 1.5 s (renewed every 500 ms).
 */
export const CLUSTER_ENV = {
  HEARTBEAT_TIMEOUT_MS: "2000",
  MAINTENANCE_INTERVAL_MS: "200",
  LEADER_TERM_MS: "1500",
  GOSSIP_INTERVAL_MS: "300",
  METRICS_PUBLISH_MS: "300",
};
export const LEADER_TERM_MS = 1500;
/** Leadership.renewMs: a third of the term. */
export const RENEW_MS = LEADER_TERM_MS / 3;
export const TICK_MS = 200;

export interface Member {
  id: string;
  url: string;
  pid: number;
  cli: SpawnedCli;
}

export interface Group {
  members: Member[];
  keys: Keys;
  byId(id: string): Member;
}

export interface Health {
  status: string;
  cluster: {
    serverId: string;
    leader: boolean;
    leaderId: string | null;
    epoch: number;
    partitioned: boolean;
    members: number;
    healthyMembers: number;
  };
}

const spawned: SpawnedCli[] = [];

/** Leadership watches still polling (watchLeadership). */
const watchers = new Set<() => void>();

/**
 * Kills (SIGCONT first, in case it is stopped, then SIGKILL) every serve process still running,
 * and stops the leadership watches of a test that failed before stopping its own.
 */
export async function killAllServers(): Promise<void> {
  for (const halt of watchers) halt();
  watchers.clear();
  for (const cli of spawned.splice(0)) {
    if (cli.child.exitCode === null && cli.child.signalCode === null) {
      cli.child.kill("SIGCONT");
      cli.child.kill("SIGKILL");
      await cli.exited;
    }
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `n` serve processes srv-1..srv-n on the given Redis under one fresh key prefix. */
export async function startGroup(
  redisUrl: string,
  n: number,
  env: Record<string, string> = CLUSTER_ENV,
): Promise<Group> {
  const prefix = uniquePrefix("cl");
  const members = await Promise.all(
    Array.from({ length: n }, async (_, i) =>
      startMember({ redisUrl, prefix, id: `srv-${i + 1}`, port: await freePort(), env }),
    ),
  );
  return {
    members,
    keys: createKeys(prefix),
    byId: (id) => {
      const member = members.find((m) => m.id === id);
      assert.ok(member, `no member ${id}`);
      return member;
    },
  };
}

/** One serve process on `port` (so that a killed one can be started again at the same address). */
export async function startMember(options: {
  redisUrl: string;
  prefix: string;
  id: string;
  port: number;
  env?: Record<string, string>;
}): Promise<Member> {
  const { id, port } = options;
  const cli = runCli(
    [
      "serve",
      "--redis-url",
      options.redisUrl,
      "--key-prefix",
      options.prefix,
      "--port",
      String(port),
      "--no-db",
      "--instance-id",
      id,
      "--log-level",
      "warn",
    ],
    { ...process.env, ...(options.env ?? CLUSTER_ENV) },
  );
  spawned.push(cli);
  await waitFor(
    () => cli.stdout().includes("Press Ctrl-C to stop.") || cli.child.exitCode !== null,
    `${id} to start`,
    60_000, // a generous bound: several node processes starting at once on a busy machine
  );
  assert.equal(cli.child.exitCode, null, `${id} exited at start: ${cli.stderr()}`);
  return { id, url: `http://127.0.0.1:${port}`, pid: cli.child.pid as number, cli };
}

export async function kill9(member: Member): Promise<void> {
  member.cli.child.kill("SIGKILL");
  await member.cli.exited;
}

export async function call<T>(url: string, method: string, params: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch(`${url}/rpc`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await res.json()) as { result?: T; error?: unknown };
  if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result as T;
}

export const health = (url: string) => call<Health>(url, "system.health");

/** Polls `check` until it returns something truthy; fails with `what` after `timeoutMs`. */
export async function until<T>(
  check: () => Promise<T | false | null | undefined | "" | 0>,
  what: string,
  timeoutMs = 20_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Waits until every member sees all the others and they agree on one leader. */
export async function formed(group: Group): Promise<{ leaderId: string; epoch: number }> {
  return until(
    async () => {
      const all = await Promise.all(group.members.map((m) => health(m.url)));
      const first = all[0]?.cluster;
      const agreed =
        first?.leaderId &&
        all.every(
          (h) =>
            h.cluster.members === group.members.length &&
            h.cluster.leaderId === first.leaderId &&
            h.cluster.epoch === first.epoch,
        );
      return agreed && { leaderId: first.leaderId as string, epoch: first.epoch };
    },
    `the ${group.members.length} servers to see each other and agree on a leader`,
    30_000,
  );
}

/** Every event on the group's stream, oldest first, optionally only those named `name`. */
export async function events(admin: Redis, keys: Keys, name?: string): Promise<DomainEvent[]> {
  const raw = (await admin.xrange(keys.events(), "-", "+")) as [string, string[]][];
  return raw.flatMap((entry) => parseEventEntry(entry) ?? []).filter((e) => !name || e.event === name);
}

/** What one member said about leadership in one `system.health` answer. */
export interface LeadershipSeen {
  id: string;
  leader: boolean;
  epoch: number;
  /** When the question was sent and the answer came (Date.now()). */
  sentAt: number;
  answeredAt: number;
}

/**
 * Asks every member for `system.health` over and over (one question at a time per member, so
 * each member's answers are in order) until `stop()`, which returns every answer. A member
 * that does not answer (killed, or stopped until SIGCONT) is simply asked again.
 */
export function watchLeadership(members: Member[], everyMs = 50): { stop(): Promise<LeadershipSeen[]> } {
  const seen: LeadershipSeen[] = [];
  let stopped = false;
  // A test that fails before it stops the watch: killAllServers stops it, or the file never ends.
  const halt = () => {
    stopped = true;
  };
  watchers.add(halt);
  const loops = members.map(async (m) => {
    while (!stopped) {
      const sentAt = Date.now();
      try {
        const res = await fetch(`${m.url}/rpc`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "system.health", params: {} }),
          signal: AbortSignal.timeout(30_000),
        });
        const { result } = (await res.json()) as { result: Health };
        seen.push({
          id: m.id,
          leader: result.cluster.leader,
          epoch: result.cluster.epoch,
          sentAt,
          answeredAt: Date.now(),
        });
      } catch {
        // killed or unreachable: ask again
      }
      await sleep(everyMs);
    }
  });
  return {
    stop: async () => {
      halt();
      watchers.delete(halt);
      await Promise.all(loops);
      return seen;
    },
  };
}

/** Each member's epochs only grow, and no epoch was ever claimed by two members. */
export function assertLeadershipHistory(seen: LeadershipSeen[]): void {
  const claimants = new Map<number, Set<string>>();
  for (const s of seen.filter((x) => x.leader)) {
    const ids = claimants.get(s.epoch) ?? new Set<string>();
    claimants.set(s.epoch, ids.add(s.id));
  }
  for (const [epoch, ids] of claimants)
    assert.equal(ids.size, 1, `epoch ${epoch} was claimed by ${[...ids].join(" and ")}`);
  for (const id of new Set(seen.map((s) => s.id))) {
    const epochs = seen.filter((s) => s.id === id).map((s) => s.epoch);
    const drop = epochs.findIndex((e, i) => i > 0 && e < (epochs[i - 1] as number));
    assert.equal(drop, -1, `${id}'s epoch went back: ${epochs.join(" ")}`);
  }
}
