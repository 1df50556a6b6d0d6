import type { Task } from "../contract/tasks.js";
import type { ErrorCode } from "../core/errors.js";
import { CONNECT_TIMEOUT, HttpPoster, type PostAnswer } from "./http-post.js";

/**
 * A small JSON-RPC client for workers, scripts and tests: one `call` plus typed helpers for
 * the task lifecycle. Errors arrive as `ClaudeBenchError` with the server's stable code.
 *
 * Given several servers of one cluster it uses one at a time and moves to the next (round
 * robin) when a call cannot reach it, staying with the one that answers. A call whose request
 * never left (connection refused, unknown host) is sent to the next server at once; one whose
 * connection broke after sending may have been carried out, so it fails with NETWORK and its
 * caller decides whether repeating it is safe (the task calls are: each carries its lease's
 * fencing token).
 */

export class ClaudeBenchError extends Error {
  override name = "ClaudeBenchError";
  constructor(
    readonly code: ErrorCode | "NETWORK",
    message: string,
    readonly rpcCode?: number,
    readonly data?: Record<string, unknown>,
  ) {
    super(message);
  }

  /**
   * Whether the same call may succeed later: no server could be reached, or one had a passing
   * failure (UNAVAILABLE is what a server answers while Redis is unreachable). Not INTERNAL: a
   * server's bug, which may pass or repeat for ever; a caller that retries it bounds how often
   * (ShellWorker tries three times).
   */
  get transient(): boolean {
    return TRANSIENT.has(this.code);
  }
}

const TRANSIENT: ReadonlySet<ClaudeBenchError["code"]> = new Set([
  "NETWORK",
  "UNAVAILABLE",
  "TIMEOUT",
  "CIRCUIT_OPEN",
  "RATE_LIMITED",
]);

/**
 * The code of an answer that is not JSON-RPC (not JSON, or JSON of another shape), by its HTTP status: what a proxy in front of the
 * server answers when it cannot reach it (502, 503, 504) or limits the rate (429). Anything
 * else is INTERNAL.
 */
const NOT_JSON_RPC: Readonly<Record<number, ErrorCode>> = {
  429: "RATE_LIMITED",
  502: "UNAVAILABLE",
  503: "UNAVAILABLE",
  504: "UNAVAILABLE",
};

/** Failures to connect (node's error codes) that prove the request was not sent. */
const NOT_SENT = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  CONNECT_TIMEOUT,
]);

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
};

export interface ClientOptions {
  /** Base URL of a server, e.g. http://127.0.0.1:3000, or several servers of one cluster. */
  url: string | readonly string[];
  token?: string;
  /** Sent as JSON-RPC metadata on every call. */
  sessionId?: string;
  instanceId?: string;
}

/** What task.fail answers: whether the task waits for a retry (until retryAt) or went to the dead letters. */
export interface FailAnswer {
  retrying: boolean;
  deadLettered: boolean;
  retryAt?: string;
  task: Task;
}

export interface ClaimResult {
  claimed: boolean;
  tasks: Task[];
}

export class ClaudeBenchClient {
  readonly #urls: readonly string[];
  /** The server calls go to; moves on when one cannot be reached. */
  #current = 0;
  readonly #headers: Record<string, string>;
  readonly #metadata: Record<string, string>;
  readonly #http = new HttpPoster();
  #id = 0;

  constructor(readonly options: ClientOptions) {
    this.#urls = [options.url].flat().map((u) => u.replace(/\/+$/, ""));
    if (this.#urls.length === 0) throw new TypeError("ClaudeBenchClient: no server URL");
    this.#headers = { "content-type": "application/json" };
    if (options.token) this.#headers.authorization = `Bearer ${options.token}`;
    this.#metadata = {};
    if (options.sessionId) this.#metadata.sessionId = options.sessionId;
    if (options.instanceId) this.#metadata.instanceId = options.instanceId;
  }

  /** The server the next call goes to. */
  get url(): string {
    return this.#urls[this.#current] as string;
  }

  async call<T = unknown>(
    method: string,
    params: Record<string, unknown> = {},
    signal?: AbortSignal,
  ): Promise<T> {
    const body = JSON.stringify({ jsonrpc: "2.0", id: ++this.#id, method, params, metadata: this.#metadata });
    let answer: PostAnswer;
    let endpoint: string;
    for (let tried = 1; ; tried++) {
      const index = this.#current;
      const url = this.#urls[index] as string;
      endpoint = `${url}/rpc`;
      try {
        answer = await this.#http.post(new URL(endpoint), body, this.#headers, signal);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (!signal?.aborted) {
          // move on, unless a concurrent call did already
          if (this.#current === index) this.#current = (index + 1) % this.#urls.length;
          if (tried < this.#urls.length && NOT_SENT.has(String(code))) continue;
        }
        const message = (err as Error).message;
        throw new ClaudeBenchError(
          "NETWORK",
          `cannot reach ClaudeBench at ${url}${tried > 1 ? ` (nor ${tried - 1} other server(s))` : ""}: ${message}${typeof code === "string" && !message.includes(code) ? ` (${code})` : ""}. Is the server running?`,
        );
      }
    }
    const reply = parseJson(answer.body) as {
      jsonrpc?: unknown;
      result?: T;
      error?: { code: number; message: string; data?: Record<string, unknown> };
    } | null;
    if (reply?.jsonrpc !== "2.0")
      throw new ClaudeBenchError(
        NOT_JSON_RPC[answer.status] ?? "INTERNAL",
        `unexpected HTTP ${answer.status} from ${endpoint}`,
      );
    if (reply.error) {
      const code = (reply.error.data?.code as ErrorCode | undefined) ?? "INTERNAL";
      throw new ClaudeBenchError(code, reply.error.message, reply.error.code, reply.error.data);
    }
    return reply.result as T;
  }

  createTask(params: { text: string } & Record<string, unknown>): Promise<Task> {
    return this.call<Task>("task.create", params);
  }

  getTask(id: string): Promise<Task> {
    return this.call<Task>("task.get", { id });
  }

  async claim(
    params: { workerId: string; maxTasks?: number } & Record<string, unknown>,
  ): Promise<ClaimResult> {
    const result = await this.call<{ claimed: boolean; tasks: Task[] }>("task.claim", params);
    return { claimed: result.claimed, tasks: result.tasks };
  }

  complete(task: Pick<Task, "id" | "leaseToken">, workerId: string, result?: unknown) {
    return this.call("task.complete", { id: task.id, workerId, token: task.leaseToken, result });
  }

  /** Completes a task and claims the next one(s) for the same worker in the same call (task.complete's claimNext). */
  async completeAndClaim(
    task: Pick<Task, "id" | "leaseToken">,
    workerId: string,
    result: unknown,
    claimNext: { maxTasks?: number } & Record<string, unknown>,
  ): Promise<ClaimResult> {
    const { next } = await this.call<{ next: ClaimResult }>("task.complete", {
      id: task.id,
      workerId,
      token: task.leaseToken,
      result,
      claimNext,
    });
    return { claimed: next.claimed, tasks: next.tasks };
  }

  fail(task: Pick<Task, "id" | "leaseToken">, workerId: string, error: string, retryable = true) {
    return this.call<FailAnswer>("task.fail", {
      id: task.id,
      workerId,
      token: task.leaseToken,
      error,
      retryable,
    });
  }

  renew(task: Pick<Task, "id" | "leaseToken">, workerId: string, leaseMs?: number) {
    return this.call<{ leaseExpiresAt: string }>("task.renew", {
      id: task.id,
      workerId,
      token: task.leaseToken,
      leaseMs,
    });
  }

  release(task: Pick<Task, "id" | "leaseToken">, workerId: string) {
    return this.call("task.release", { id: task.id, workerId, token: task.leaseToken });
  }
}
