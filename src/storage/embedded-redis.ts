import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { delimiter, join, resolve } from "node:path";
import type { Logger } from "../core/logger.js";
import { ensurePassword, PASSWORD_FILE, privateDir } from "./private-dir.js";

/**
 * A private `redis-server` owned by this process: started on a free loopback port with its
 * data in the data directory, stopped with us. A `kill -9` of this process must not leave it
 * running, and Node cannot ask the kernel for a parent-death signal, so redis-server runs
 * under a tiny `sh` watchdog whose stdin is a pipe from us: when we die, for any reason,
 * the pipe closes, `read` returns and the watchdog stops redis-server.
 *
 * Any local process can reach a loopback port, and whoever can write to this Redis can put a
 * request on the request stream, past the server's auth token. So redis-server requires a
 * password: 32 random bytes (hex) generated once into `<dataDir>/password` (mode 0600, the
 * directory 0700) and reused, so a user's redis-cli and other clients keep working across
 * restarts. redis-server reads it from a config file named as its first argument (mode 0600;
 * `ps` shows only the file's name) and so never listens without it, not even for a moment.
 */

export interface EmbeddedRedis {
  /** The URL to connect with. It carries the password: never print or log it (`redactUrl`). */
  readonly url: string;
  readonly port: number;
  /** redis-server's own pid. */
  readonly pid: number;
  readonly dataDir: string;
  /** The file holding the password (`AUTH`), or null when none is required. */
  readonly passwordFile: string | null;
  stop(): Promise<void>;
}

interface EmbeddedRedisOptions {
  dataDir: string;
  /** AOF persistence (on for `serve`; tests may turn it off). */
  appendOnly?: boolean;
  /**
   * Require the password kept in the data directory (the default). Off only for benchmarks
   * that hand the bare port to a third-party client (the reference server, BullMQ).
   */
  requirePassword?: boolean;
  log?: Logger;
}

/** Files in the data directory that users read (README.md, "The private Redis"). */
const PORT_FILE = "port";
const AUTH_CONFIG_FILE = "auth.conf";

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

/** The config file redis-server reads before it listens: only the password is in it. */
function writeAuthConfig(dataDir: string, password: string): string {
  const file = resolve(dataDir, AUTH_CONFIG_FILE);
  rmSync(file, { force: true });
  const text = `# written by claudebench at each start from ./${PASSWORD_FILE}\nrequirepass ${password}\n`;
  writeFileSync(file, text, { mode: 0o600, flag: "wx" });
  return file;
}

/**
 * AUTH (when there is a password) and PING over a raw socket: resolves with the reply to
 * AUTH when it failed, else the reply to PING, or null if nothing answers.
 */
function ping(port: number, password: string | null): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const replies = password ? 2 : 1;
    let received = "";
    const done = (reply: string | null) => {
      socket.destroy();
      resolve(reply);
    };
    socket.setTimeout(1000, () => done(null));
    socket.once("error", () => done(null));
    // A peer that answers less and hangs up (a stranger on the port, "max clients" refusals).
    socket.once("close", () => done(received.split("\r\n")[0] || null));
    socket.on("data", (data) => {
      received += data.toString();
      const lines = received.split("\r\n");
      if (lines.length <= replies) return;
      const failedAuth = password && lines[0] !== "+OK";
      done((failedAuth ? lines[0] : lines[replies - 1]) ?? null);
    });
    socket.connect(port, "127.0.0.1", () =>
      socket.write(`${password ? `AUTH ${password}\r\n` : ""}PING\r\n`),
    );
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
  auth: { password: string; configFile: string } | null,
  options: EmbeddedRedisOptions,
): Promise<EmbeddedRedis> {
  const { dataDir } = options;
  const password = auth?.password ?? null;
  const args = [
    // A config file must come first; the options after it add to it.
    ...(auth ? [auth.configFile] : []),
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
    const reply = await ping(port, password);
    if (reply === "+PONG") break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.stdin?.end();
      await exited;
      throw new Error(`redis-server did not start on port ${port}: ${logTail(dataDir)}`);
    }
    await new Promise((r) => setTimeout(r, reply?.startsWith("-LOADING") ? 200 : 20));
  }
  options.log?.debug({ pid, port, dataDir }, "embedded redis-server ready");
  // For `redis-cli -p "$(cat <dataDir>/port)"`; the banner shows it too.
  writeFileSync(join(dataDir, PORT_FILE), `${port}\n`);
  let stopping: Promise<void> | undefined;
  return {
    url: password ? `redis://:${password}@127.0.0.1:${port}` : `redis://127.0.0.1:${port}`,
    port,
    pid,
    dataDir,
    passwordFile: password ? join(dataDir, PASSWORD_FILE) : null,
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
  // Only we may read the password and the AOF.
  privateDir(options.dataDir);
  const password = options.requirePassword === false ? null : ensurePassword(options.dataDir);
  const auth = password ? { password, configFile: writeAuthConfig(options.dataDir, password) } : null;
  let lastError: unknown;
  // A free port can be taken between our probe and redis-server's bind: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(binary, await freePort(), auth, options);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}
