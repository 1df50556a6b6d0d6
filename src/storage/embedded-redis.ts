import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, mkdirSync, readFileSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { delimiter, join } from "node:path";
import type { Logger } from "../core/logger.js";

/**
 * A private `redis-server` owned by this process: started on a free loopback port with its
 * data in the data directory, stopped with us. A `kill -9` of this process must not leave it
 * running, and Node cannot ask the kernel for a parent-death signal, so redis-server runs
 * under a tiny `sh` watchdog whose stdin is a pipe from us: when we die, for any reason,
 * the pipe closes, `read` returns and the watchdog stops redis-server.
 */

export interface EmbeddedRedis {
  readonly url: string;
  readonly port: number;
  /** redis-server's own pid. */
  readonly pid: number;
  readonly dataDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedRedisOptions {
  dataDir: string;
  /** AOF persistence (on for `serve`; tests may turn it off). */
  appendOnly?: boolean;
  log?: Logger;
}

export class RedisServerMissingError extends Error {
  override name = "RedisServerMissingError";
  constructor() {
    super(
      "redis-server was not found on PATH. Install it (Debian/Ubuntu: sudo apt-get install -y redis-server; " +
        "macOS: brew install redis) or point REDIS_URL at an existing Redis.",
    );
  }
}

const WATCHDOG = `
"$@" &
pid=$!
echo "$pid"
trap 'kill -TERM "$pid" 2>/dev/null' TERM INT HUP
read _closed
kill -TERM "$pid" 2>/dev/null
wait "$pid"
`;

export function findOnPath(command: string, path = process.env.PATH ?? ""): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject()));
    });
  });
}

/** One PING over a raw socket: resolves with the first reply line, or null if nothing answers. */
function ping(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (reply: string | null) => {
      socket.destroy();
      resolve(reply);
    };
    socket.setTimeout(1000, () => done(null));
    socket.once("error", () => done(null));
    socket.once("data", (data) => done(data.toString().split("\r\n")[0] ?? null));
    socket.connect(port, "127.0.0.1", () => socket.write("PING\r\n"));
  });
}

function readPid(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let buffered = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const line = buffered.split("\n")[0];
      if (buffered.includes("\n") && line) resolve(Number(line));
    });
    child.once("exit", () => reject(new Error("redis-server watchdog exited before starting redis-server")));
  });
}

function logTail(dataDir: string): string {
  try {
    return readFileSync(join(dataDir, "redis.log"), "utf8").trim().split("\n").slice(-3).join(" | ");
  } catch {
    return "(no redis.log)";
  }
}

async function startOnce(
  binary: string,
  port: number,
  options: EmbeddedRedisOptions,
): Promise<EmbeddedRedis> {
  const { dataDir } = options;
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--protected-mode",
    "yes",
    "--dir",
    dataDir,
    "--daemonize",
    "no",
    "--logfile",
    "redis.log",
    "--save",
    "",
    "--appendonly",
    options.appendOnly === false ? "no" : "yes",
  ];
  const child = spawn("/bin/sh", ["-c", WATCHDOG, "redis-watchdog", binary, ...args], {
    // Own process group: a Ctrl-C in the terminal reaches us, and we stop redis in order.
    detached: true,
    stdio: ["pipe", "pipe", "ignore"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const pid = await readPid(child);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const reply = await ping(port);
    if (reply === "+PONG") break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.stdin?.end();
      await exited;
      throw new Error(`redis-server did not start on port ${port}: ${logTail(dataDir)}`);
    }
    await new Promise((r) => setTimeout(r, reply?.startsWith("-LOADING") ? 200 : 20));
  }
  options.log?.debug({ pid, port, dataDir }, "embedded redis-server ready");
  let stopping: Promise<void> | undefined;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid,
    dataDir,
    stop: () => {
      stopping ??= (async () => {
        child.stdin?.end();
        const timer = setTimeout(() => {
          if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
        }, 10_000);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

export async function startEmbeddedRedis(options: EmbeddedRedisOptions): Promise<EmbeddedRedis> {
  const binary = findOnPath("redis-server");
  if (!binary) throw new RedisServerMissingError();
  mkdirSync(options.dataDir, { recursive: true });
  let lastError: unknown;
  // A free port can be taken between our probe and redis-server's bind: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(binary, await freePort(), options);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}
