import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DataDirLockedError, lockDataDir } from "../../src/storage/data-dir-lock.js";

/**
 * One owner per data directory, with many processes starting at once. A pool of spawned node
 * processes (each has imported the module) is told "lock <dir> at <time>"; each spins until
 * that moment, so they call lockDataDir on the same directory together, and answers OWNER or
 * LOCKED. Exactly one may own it, whether the directory is free, holds the lock of a process
 * killed with kill -9, or holds an old empty lock file. Many rounds: a race shows in some.
 */

const MODULE = join(import.meta.dirname, "../../src/storage/data-dir-lock.ts");

const CONTENDER = `
const { lockDataDir, DataDirLockedError } = await import(${JSON.stringify(MODULE)});
let lock = null;
let buffered = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  buffered += chunk;
  for (let nl; (nl = buffered.indexOf("\\n")) >= 0; ) {
    const [command, dir, at] = buffered.slice(0, nl).split(" ");
    buffered = buffered.slice(nl + 1);
    if (command === "lock") {
      // the start line: sleep to just before it, then spin so that all leave at once
      const now = () => performance.timeOrigin + performance.now();
      const sleepMs = Number(at) - now() - 2;
      if (sleepMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, sleepMs);
      while (now() < Number(at));
      try {
        lock = lockDataDir(dir);
        console.log("OWNER");
      } catch (err) {
        console.log(err instanceof DataDirLockedError ? "LOCKED " + err.message : "ERROR " + err.stack);
      }
    } else if (command === "release") {
      lock?.release();
      lock = null;
      console.log("RELEASED");
    }
  }
});
console.log("READY");
`;

interface Contender {
  child: ChildProcess;
  /** The next line it prints. */
  next(): Promise<string>;
  send(line: string): void;
}

function contender(): Contender {
  // tsx by its path: the test may run in a directory without node_modules (scripts/run-tests.mjs)
  const tsx = import.meta.resolve("tsx");
  const child = spawn(process.execPath, ["--import", tsx, "--input-type=module", "-e", CONTENDER], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const waiting: (() => void)[] = [];
  let partial = "";
  let stderr = "";
  child.stdout?.on("data", (d) => {
    partial += d;
    const complete = partial.split("\n");
    partial = complete.pop() ?? "";
    lines.push(...complete);
    for (const wake of waiting.splice(0)) wake();
  });
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  const next = () =>
    new Promise<string>((resolve, reject) => {
      const take = () => {
        const line = lines.shift();
        if (line !== undefined) return resolve(line);
        if (child.exitCode !== null || child.signalCode !== null)
          return reject(new Error(`contender ${child.pid} exited: ${stderr}`));
        waiting.push(take);
      };
      take();
    });
  child.once("exit", () => {
    for (const wake of waiting.splice(0)) wake();
  });
  return { child, next, send: (line) => child.stdin?.write(`${line}\n`) };
}

const CONTENDERS = 12;
const ROUNDS = 20;

let pool: Contender[] = [];
const dirs: string[] = [];
const freshDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "cb-lock-"));
  dirs.push(dir);
  return dir;
};

before(async () => {
  pool = Array.from({ length: CONTENDERS }, contender);
  for (const c of pool) assert.equal(await c.next(), "READY");
});

after(() => {
  for (const c of pool) c.child.kill("SIGKILL");
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The contenders lock `dir` together; asserts exactly one owns it and the others name it; then all release. */
async function race(contenders: Contender[], dir: string): Promise<void> {
  const at = Date.now() + 100;
  for (const c of contenders) c.send(`lock ${dir} ${at}`);
  const answers = await Promise.all(contenders.map((c) => c.next()));
  assert.deepEqual(
    answers.filter((a) => !a.startsWith("OWNER") && !a.startsWith("LOCKED")),
    [],
    "every contender either owns the directory or was refused",
  );
  const owners = contenders.filter((_, i) => answers[i] === "OWNER");
  assert.equal(owners.length, 1, `exactly one owner:\n${answers.join("\n")}`);
  const owner = (owners[0] as Contender).child.pid;
  for (const refused of answers.filter((a) => a !== "OWNER"))
    assert.match(
      refused,
      new RegExp(`^LOCKED data directory .* is in use by process ${owner}: stop that server`),
    );
  for (const c of contenders) c.send("release");
  for (const c of contenders) assert.equal(await c.next(), "RELEASED");
  assert.deepEqual(readdirSync(dir), [], "the owner's release leaves nothing behind, nor do the others");
}

describe("data-directory lock under concurrent starts", () => {
  it(`${CONTENDERS} processes locking a free directory at once: exactly one owns it (${ROUNDS} rounds)`, async () => {
    for (let round = 0; round < ROUNDS; round++) await race(pool, freshDir());
  });

  it(`${CONTENDERS} processes finding the lock of a process killed with kill -9: exactly one takes it over (${ROUNDS} rounds)`, async () => {
    // A lock left by a process killed with kill -9, copied into each round's directory.
    const origin = freshDir();
    const victim = contender();
    assert.equal(await victim.next(), "READY");
    victim.send(`lock ${origin} 0`);
    assert.equal(await victim.next(), "OWNER");
    const killed = new Promise((resolve) => victim.child.once("exit", resolve));
    victim.child.kill("SIGKILL");
    await killed;
    assert.deepEqual(readdirSync(origin), ["serve.lock"]);

    for (let round = 0; round < ROUNDS; round++) {
      const dir = freshDir();
      copyFileSync(join(origin, "serve.lock"), join(dir, "serve.lock"));
      await race(pool, dir);
    }
  });

  it(`${CONTENDERS} processes finding an old empty lock file at once: exactly one takes it over (${ROUNDS} rounds)`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const dir = freshDir();
      writeFileSync(join(dir, "serve.lock"), "");
      const old = new Date(Date.now() - 60_000);
      utimesSync(join(dir, "serve.lock"), old, old);
      await race(pool, dir);
    }
  });

  it("an empty lock file (a writer between creating and filling it) is held while fresh, taken over once old", () => {
    const dir = freshDir();
    const path = join(dir, "serve.lock");
    writeFileSync(path, "");
    assert.throws(
      () => lockDataDir(dir),
      (err: Error) =>
        err instanceof DataDirLockedError && /serve\.lock is empty or unreadable/.test(err.message),
    );
    assert.deepEqual(readdirSync(dir), ["serve.lock"], "the refused start left the empty file alone");

    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    const lock = lockDataDir(dir);
    assert.throws(
      () => lockDataDir(dir),
      new RegExp(`in use by process ${process.pid}`),
      "this process owns it now",
    );
    lock.release();
    assert.deepEqual(readdirSync(dir), []);
  });

  it("a takeover claim whose holder died mid-way is passed over; one whose holder runs is waited for", () => {
    // A stale lock of a dead process (no pid above Linux's pid_max runs) and a claim on it.
    const dir = freshDir();
    const path = join(dir, "serve.lock");
    const DEAD = 2 ** 22 + 1;
    writeFileSync(path, JSON.stringify({ pid: DEAD, id: "dead-owner" }));
    const claim = join(dir, "serve.lock.dead-owner.1.claim");

    // held by a running process (a pool contender stands in for one mid-way): refused after a wait
    const holder = (pool[0] as Contender).child.pid;
    writeFileSync(claim, JSON.stringify({ pid: holder, id: "live-taker" }));
    const started = Date.now();
    assert.throws(() => lockDataDir(dir), new RegExp(`in use by process ${holder}`));
    assert.ok(Date.now() - started >= 500, "it waited for the takeover to finish");

    // its holder died between claim and rename: the next claim wins, and both claims go
    writeFileSync(claim, JSON.stringify({ pid: DEAD, id: "dead-taker" }));
    const lock = lockDataDir(dir);
    assert.deepEqual(readdirSync(dir), ["serve.lock"]);
    assert.throws(() => lockDataDir(dir), new RegExp(`in use by process ${process.pid}`));
    lock.release();
    assert.deepEqual(readdirSync(dir), []);
  });
});
