import { timingSafeEqual } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";

/**
 * PGlite behind the PostgreSQL wire protocol, on a loopback port: the server then reaches its
 * embedded history store with the same `pg` client, pool and SQL as a production PostgreSQL.
 *
 * PGlite is one PostgreSQL backend in single-user mode, so one connection holds it at a time:
 * others wait in line, and a connection that goes away mid-transaction has it rolled back
 * before the next one starts. Any local process can reach a loopback port, so a connection must
 * first give the password (cleartext, over loopback, as the private Redis' AUTH) before it may
 * wait for the backend: a stranger can neither read the history nor hold the line.
 *
 * PGlite answers the startup packet and every message after it itself (execProtocolRaw);
 * this module only frames the byte stream into whole messages, asks for the password and
 * takes turns.
 */

/** What the bridge needs of PGlite. */
interface WireBackend {
  /** Runs whole protocol messages (a startup packet, or any number of typed messages). */
  execProtocolRaw(message: Uint8Array): Promise<Uint8Array>;
  isInTransaction(): boolean;
  exec(sql: string): Promise<unknown>;
}

export interface WireServer {
  readonly port: number;
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;
/** PostgreSQL's own bound on a startup packet. */
const MAX_STARTUP_BYTES = 10_000;
/** PostgreSQL's bound on one message (and PGlite's buffer). */
const MAX_MESSAGE_BYTES = 1 << 30;
/** A connection must have authenticated within this. */
const AUTH_TIMEOUT_MS = 10_000;
const TERMINATE = 0x58; // 'X'
const PASSWORD_MESSAGE = 0x70; // 'p'
/** The messages after which the backend says ReadyForQuery: Sync (extended protocol), Query (simple). */
const isBoundary = (type: number) => type === 0x53 || type === 0x51;
/** Ends an extended query a lost connection left half done. */
const SYNC = Buffer.from([0x53, 0, 0, 0, 4]);

/** An ErrorResponse with severity FATAL. */
function fatal(code: string, message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0\0`);
  const head = Buffer.alloc(5);
  head[0] = 0x45; // 'E'
  head.writeInt32BE(4 + fields.length, 1);
  return Buffer.concat([head, fields]);
}

/** AuthenticationCleartextPassword. */
const ASK_PASSWORD = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]);

/** Chunks as they arrive; whole messages taken off the front without copying more than needed. */
class ByteQueue {
  #chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The first `n` bytes, contiguous (n ≤ length). */
  peek(n: number): Buffer {
    const first = this.#chunks[0] as Buffer;
    if (first.length >= n) return first.subarray(0, n);
    const joined = Buffer.concat(this.#chunks);
    this.#chunks = [joined];
    return joined.subarray(0, n);
  }

  take(n: number): Buffer {
    const out = this.peek(n);
    const first = this.#chunks[0] as Buffer;
    if (first.length === n) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(n);
    this.length -= n;
    return out;
  }
}

/**
 * Listens on 127.0.0.1:`port` (0: any free port). `password` is what clients must give.
 * Resolves once listening.
 */
export async function serveWire(backend: WireBackend, port: number, password: string): Promise<WireServer> {
  const expected = Buffer.from(password);
  /**
   * Whose turn it is on the backend, and who waits (first come, first served). A connection
   * keeps its turn until the backend is ready for a new query outside a transaction: its last
   * message was a Sync or a simple Query, and no transaction is open. So connections take turns
   * between transactions, never inside one, nor inside an extended query.
   */
  let owner: Socket | null = null;
  const queue: Array<{ socket: Socket; go: () => void }> = [];
  const next = () => {
    if (owner) return;
    const turn = queue.shift();
    if (!turn) return;
    owner = turn.socket;
    turn.go();
  };
  const acquire = (socket: Socket) =>
    owner === socket
      ? Promise.resolve()
      : new Promise<void>((go) => {
          queue.push({ socket, go });
          next();
        });
  const release = (socket: Socket) => {
    if (owner !== socket) return;
    owner = null;
    next();
  };
  const sockets = new Set<Socket>();

  const handle = (socket: Socket) => {
    sockets.add(socket);
    const input = new ByteQueue();
    let state: "startup" | "password" | "session" | "closed" = "startup";
    /** The messages run one batch at a time, in order. */
    let running: Promise<void> = Promise.resolve();
    const authTimer = setTimeout(() => socket.destroy(), AUTH_TIMEOUT_MS);

    const refuse = (code: string, message: string) => {
      state = "closed";
      socket.end(fatal(code, message));
    };

    /** Runs whole messages in this connection's turn; gives the turn up where another may start. */
    const run = (messages: Buffer, boundary: boolean, then?: () => void) => {
      running = running.then(async () => {
        if (messages.length > 0) {
          await acquire(socket);
          const reply = await backend.execProtocolRaw(messages);
          if (reply.length > 0 && !socket.destroyed) socket.write(reply);
          if (boundary && !backend.isInTransaction()) release(socket);
        }
        then?.();
      });
      running.catch(() => socket.destroy());
    };

    /**
     * Whole typed messages at the front of the input (null while the first is incomplete),
     * whether the last of them ends a query (Sync, Query), and whether the client said goodbye
     * (Terminate: what follows it is dropped).
     */
    const takeMessages = (): { batch: Buffer; boundary: boolean; terminate: boolean } | null => {
      let size = 0;
      let last = 0;
      const all = input.length;
      while (all - size >= 5) {
        const head = input.peek(size + 5).subarray(size);
        if (head[0] === TERMINATE)
          return { batch: input.take(size), boundary: isBoundary(last), terminate: true };
        const length = head.readInt32BE(1);
        if (length < 4 || length > MAX_MESSAGE_BYTES) {
          refuse("08P01", "invalid message length");
          return null;
        }
        if (all - size < 1 + length) break;
        last = head[0] as number;
        size += 1 + length;
      }
      return size > 0 ? { batch: input.take(size), boundary: isBoundary(last), terminate: false } : null;
    };

    const onData = () => {
      while (state === "startup") {
        if (input.length < 8) return;
        const length = input.peek(4).readInt32BE(0);
        if (length < 8 || length > MAX_STARTUP_BYTES) {
          refuse("08P01", "invalid startup packet length");
          return;
        }
        if (input.length < length) return;
        const packet = input.take(length);
        const code = packet.readInt32BE(4);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          socket.write("N"); // no encryption: loopback only
        } else if (code === CANCEL_REQUEST) {
          socket.destroy();
          return;
        } else if (code !== PROTOCOL_3) {
          refuse("0A000", "unsupported frontend protocol");
          return;
        } else {
          startup = packet;
          state = "password";
          socket.write(ASK_PASSWORD);
        }
      }
      if (state === "password") {
        if (input.length < 5) return;
        const length = input.peek(5).readInt32BE(1);
        if (length < 5 || length > MAX_STARTUP_BYTES) {
          refuse("08P01", "invalid password message");
          return;
        }
        if (input.length < 1 + length) return;
        const message = input.take(1 + length);
        // the password, without its terminating NUL
        const given = message.subarray(5, message.length - 1);
        const ok =
          message[0] === PASSWORD_MESSAGE &&
          given.length === expected.length &&
          timingSafeEqual(given, expected);
        if (!ok) {
          refuse("28P01", "password authentication failed");
          return;
        }
        clearTimeout(authTimer);
        state = "session";
        // PGlite answers the startup packet itself: AuthenticationOk, parameters, ReadyForQuery.
        run(startup as Buffer, true);
      }
      if (state !== "session") return;
      const taken = takeMessages();
      if (!taken) return;
      if (taken.terminate) state = "closed";
      run(taken.batch, taken.boundary, taken.terminate ? () => socket.end() : undefined);
    };
    let startup: Buffer | null = null;

    socket.on("data", (chunk: Buffer) => {
      if (state === "closed") return;
      input.push(chunk);
      onData();
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      clearTimeout(authTimer);
      sockets.delete(socket);
      state = "closed";
      const waiting = queue.findIndex((turn) => turn.socket === socket);
      if (waiting >= 0) queue.splice(waiting, 1);
      // A connection lost in its turn (mid-query, mid-transaction) must not leave the backend so.
      void running
        .catch(() => undefined)
        .then(async () => {
          if (owner !== socket) return;
          await backend.execProtocolRaw(SYNC);
          if (backend.isInTransaction()) await backend.exec("ROLLBACK");
        })
        .catch(() => undefined)
        .finally(() => release(socket));
    });
  };

  const server: Server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
