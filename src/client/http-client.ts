import type { ErrorCode } from "../core/errors.js";
import type { Task } from "../domain/tasks/model.js";

/**
 * A small JSON-RPC client for workers, scripts and tests: one `call` plus typed helpers for
 * the task lifecycle. Errors arrive as `ClaudeBenchError` with the server's stable code.
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
}

export interface ClientOptions {
  /** Base URL of a server, e.g. http://127.0.0.1:3000 */
  url: string;
  token?: string;
  /** Sent as JSON-RPC metadata on every call. */
  sessionId?: string;
  instanceId?: string;
}

export interface ClaimResult {
  claimed: boolean;
  tasks: Task[];
}

export class ClaudeBenchClient {
  readonly #endpoint: string;
  readonly #headers: Record<string, string>;
  readonly #metadata: Record<string, string>;
  #id = 0;

  constructor(readonly options: ClientOptions) {
    this.#endpoint = `${options.url.replace(/\/+$/, "")}/rpc`;
    this.#headers = { "content-type": "application/json" };
    if (options.token) this.#headers.authorization = `Bearer ${options.token}`;
    this.#metadata = {};
    if (options.sessionId) this.#metadata.sessionId = options.sessionId;
    if (options.instanceId) this.#metadata.instanceId = options.instanceId;
  }

  async call<T = unknown>(
    method: string,
    params: Record<string, unknown> = {},
    signal?: AbortSignal,
  ): Promise<T> {
    const body = JSON.stringify({ jsonrpc: "2.0", id: ++this.#id, method, params, metadata: this.#metadata });
    let response: Response;
    try {
      response = await fetch(this.#endpoint, { method: "POST", headers: this.#headers, body, signal });
    } catch (err) {
      throw new ClaudeBenchError(
        "NETWORK",
        `cannot reach ClaudeBench at ${this.options.url}: ${(err as Error).message}. Is the server running?`,
      );
    }
    const reply = (await response.json().catch(() => null)) as {
      result?: T;
      error?: { code: number; message: string; data?: Record<string, unknown> };
    } | null;
    if (!reply)
      throw new ClaudeBenchError("INTERNAL", `unexpected HTTP ${response.status} from ${this.#endpoint}`);
    if (reply.error) {
      const code = (reply.error.data?.code as ErrorCode | undefined) ?? "INTERNAL";
      throw new ClaudeBenchError(code, reply.error.message, reply.error.code, reply.error.data);
    }
    return reply.result as T;
  }

  createTask(params: { text: string } & Record<string, unknown>): Promise<Task> {
    return this.call<Task>("task.create", params);
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
    return this.call("task.fail", { id: task.id, workerId, token: task.leaseToken, error, retryable });
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
