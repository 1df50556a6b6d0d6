import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import type { Redis } from "ioredis";
import {
  CLUSTER_ENV,
  call,
  events,
  formed,
  kill9,
  killAllServers,
  type Member,
  sleep,
  startGroup,
} from "../helpers/cluster.js";
import { type TestRedis, useTestRedis } from "../helpers/redis.js";

/**
 * Heartbeat soak of a cluster of three `claudebench serve` processes: SOAK_AGENTS agents
 * heartbeating once a second for SOAK_SECONDS (env, default 60) through the three processes,
 * with a heartbeat timeout of 3 s: no agent may be declared failed. The CPU used by each server
 * process and by redis-server (from /proc/<pid>/stat) is reported as test diagnostics, not
 * asserted. The runner gives a file 120 s: for a longer soak run this file directly, e.g.
 * SOAK_SECONDS=600 node --import tsx --test --test-timeout=0 test/e2e/cluster-soak.test.ts
 */

const SOAK_SECONDS = Number(process.env.SOAK_SECONDS ?? 60);
const SOAK_AGENTS = 100;

let redis: TestRedis;
let admin: Redis;

// before Redis stops: the servers are killed first
after(() => killAllServers());
useTestRedis((started) => {
  redis = started.server;
  admin = started.redis;
});

const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** CPU time (user + system) a process has used so far, in seconds, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after "(comm)": state is field 3, utime field 14, stime field 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

describe("cluster soak", () => {
  it(`soak: ${SOAK_AGENTS} agents heartbeating every second for ${SOAK_SECONDS} s through three processes: no false failure`, {
    timeout: (SOAK_SECONDS + 90) * 1000,
  }, async (t) => {
    const group = await startGroup(redis.url, 3, { ...CLUSTER_ENV, HEARTBEAT_TIMEOUT_MS: "3000" });
    const { keys, members } = group;
    try {
      await formed(group);
      const pids: [string, number][] = [
        ...members.map((m): [string, number] => [m.id, m.pid]),
        ["redis-server", redis.pid],
      ];
      // Baseline: the same processes idle (ticks, gossip, metrics), no agents yet.
      const idleS = Math.min(5, SOAK_SECONDS);
      const idleBefore = pids.map(([, pid]) => cpuSeconds(pid));
      const idleStarted = Date.now();
      await sleep(idleS * 1000);
      const idleWallS = (Date.now() - idleStarted) / 1000;
      const idle = pids.map(([, pid], i) => (cpuSeconds(pid) - (idleBefore[i] as number)) / idleWallS);

      const agents = Array.from({ length: SOAK_AGENTS }, (_, i) => `soak-${String(i).padStart(3, "0")}`);
      const via = (i: number) => (members[i % members.length] as Member).url;
      await Promise.all(agents.map((id, i) => call(via(i), "system.register", { id, roles: ["soak"] })));

      const cpuBefore = pids.map(([, pid]) => cpuSeconds(pid));
      const driverBefore = process.cpuUsage();
      const startedAt = Date.now();

      // One heartbeat every 10 ms: each agent once a second, through the three servers in turn.
      const interval = 1000 / SOAK_AGENTS;
      const total = SOAK_AGENTS * SOAK_SECONDS;
      const lastBeat = new Map<string, number>(agents.map((id) => [id, startedAt]));
      let maxGap = 0; // between two answered heartbeats of one agent
      let maxLatency = 0; // of one heartbeat call
      let maxLag = 0; // how late the driver sent a heartbeat (its own event loop)
      let dead = 0;
      let errors = 0;
      const inFlight = new Set<Promise<void>>();
      for (let k = 0; k < total; k++) {
        const due = startedAt + k * interval;
        if (due > Date.now()) await sleep(due - Date.now());
        const sentAt = Date.now();
        maxLag = Math.max(maxLag, sentAt - due);
        const i = k % SOAK_AGENTS;
        const id = agents[i] as string;
        // Never wait for an answer before sending the next one: a slow call must not delay the others.
        const beat: Promise<void> = call<{ alive: boolean }>(
          via(i + Math.floor(k / SOAK_AGENTS)),
          "system.heartbeat",
          {
            instanceId: id,
          },
        )
          .then(
            ({ alive }) => {
              const now = Date.now();
              if (!alive) dead++;
              maxLatency = Math.max(maxLatency, now - sentAt);
              maxGap = Math.max(maxGap, now - (lastBeat.get(id) ?? now));
              lastBeat.set(id, now);
            },
            () => {
              errors++;
            },
          )
          .finally(() => inFlight.delete(beat));
        inFlight.add(beat);
      }
      await Promise.all(inFlight);
      const wallS = (Date.now() - startedAt) / 1000;
      const cpuAfter = pids.map(([, pid]) => cpuSeconds(pid));
      const driver = process.cpuUsage(driverBefore);

      t.diagnostic(
        `soak: ${SOAK_AGENTS} agents × 1 heartbeat/s for ${wallS.toFixed(1)} s = ${total} heartbeats; longest gap between an agent's answered heartbeats ${maxGap} ms (timeout 3000 ms), slowest heartbeat ${maxLatency} ms, driver late by up to ${maxLag} ms`,
      );
      const row = (name: string, cpuS: string, pct: string, idlePct: string) =>
        `${name.padEnd(14)} ${cpuS.padStart(9)} ${pct.padStart(13)} ${idlePct.padStart(12)}`;
      t.diagnostic(row("process", "soak CPU s", "soak % core", `idle % core`));
      pids.forEach(([name], i) => {
        const used = (cpuAfter[i] as number) - (cpuBefore[i] as number);
        t.diagnostic(
          row(
            name,
            used.toFixed(2),
            ((100 * used) / wallS).toFixed(1),
            (100 * (idle[i] as number)).toFixed(1),
          ),
        );
      });
      const driverS = (driver.user + driver.system) / 1e6;
      t.diagnostic(row("test driver", driverS.toFixed(2), ((100 * driverS) / wallS).toFixed(1), "-"));
      t.diagnostic(
        `(idle = the same processes for ${idleS} s before any agent registered; ${CLK_TCK} ticks/s)`,
      );

      const failed = await events(admin, keys, "instance.failed");
      assert.deepEqual(
        failed.map((e) => e.payload.instanceId),
        [],
        `no instance was declared failed: ${JSON.stringify(failed.map((e) => ({ ...e.payload, at: e.ts, by: e.source })))}`,
      );
      assert.equal(errors, 0, "every heartbeat was answered");
      assert.equal(dead, 0, "no heartbeat answered alive: false");
      for (const m of members) {
        const active = (
          await call<{ instances: { id: string }[] }>(m.url, "system.instances", { status: "active" })
        ).instances;
        assert.equal(active.length, SOAK_AGENTS, `${m.id}: all ${SOAK_AGENTS} agents alive at the end`);
      }
    } finally {
      for (const m of members) await kill9(m);
    }
  });
});
