/**
 * redis-server under valgrind's callgrind, for benchmarks that count the instructions it
 * executes in a phase (bench:redis-work, bench:bullmq --instructions). An instruction count
 * repeats within 0.1 % for the same commands and within ~3 % for a server under HTTP load (its
 * batched writes vary with how long a phase lasts), where time on this kind of machine varies
 * by ±20 %; it does not show what cache misses cost (docs/performance.md, "Work in Redis").
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { children, freePort } from "./lib.js";

/** Runs a command to completion; rejects with its output when it fails or is missing. */
function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0 ? resolve(output) : reject(new Error(`${command} ${args.join(" ")}: ${output}`)),
    );
  });
}

/** redis-server under callgrind, instrumentation off until a phase turns it on. */
export class CountedRedis {
  dumps = 0;
  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    readonly outFile: string,
  ) {}

  static async start(dir: string): Promise<CountedRedis> {
    const port = await freePort();
    const outFile = join(dir, "callgrind.out");
    const child = spawn(
      "valgrind",
      [
        "--tool=callgrind",
        "--instr-atstart=no",
        `--callgrind-out-file=${outFile}`,
        "redis-server",
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    children.add(child);
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    const spawned = await new Promise<Error | null>((resolve) => {
      child.once("spawn", () => resolve(null));
      child.once("error", resolve);
    });
    if (spawned)
      throw new Error("valgrind was not found. Install it (Debian: sudo apt-get install -y valgrind).");
    const redis = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on("error", () => {});
    for (let tries = 0; ; tries++) {
      await new Promise((r) => setTimeout(r, 500));
      try {
        await redis.connect();
        await redis.ping();
        break;
      } catch {
        if (child.exitCode !== null || tries > 60)
          throw new Error(`redis-server under valgrind did not start:\n${stderr}`);
      }
    }
    redis.disconnect();
    return new CountedRedis(child, port, outFile);
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  #control(...args: string[]): Promise<string> {
    return run("callgrind_control", [...args, String(this.child.pid)]);
  }

  /** Instructions redis-server executes during `during`, and how long that took (s). */
  async count(during: () => Promise<void>): Promise<{ instructions: number; seconds: number }> {
    await this.#control("-i", "on");
    await this.#control("-z");
    const started = performance.now();
    await during();
    const seconds = (performance.now() - started) / 1000;
    await this.#control("-d");
    await this.#control("-i", "off");
    this.dumps += 1;
    const dump = readFileSync(`${this.outFile}.${this.dumps}`, "utf8");
    const totals = /^totals: (\d+)/m.exec(dump) ?? /^summary: (\d+)/m.exec(dump);
    if (!totals) throw new Error(`no totals in ${this.outFile}.${this.dumps}`);
    return { instructions: Number(totals[1]), seconds };
  }
}
