/**
 * The server, as the page reaches it: JSON-RPC on /rpc with the bearer token when the server
 * has one. The token is asked once and kept in sessionStorage (this tab only).
 */

const TOKEN_KEY = "claudebench.token";

export class RpcError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

export class Api {
  #id = 0;
  /** Called when the server refuses the token: the page asks for one, then the call is retried. */
  askToken: () => Promise<string> = () => Promise.reject(new Error("no token"));

  get token(): string | null {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  set token(value: string | null) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  }

  async call<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const res = await this.#fetch("/rpc", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++this.#id, method, params }),
    });
    const body = (await res.json()) as {
      result?: T;
      error?: { message: string; data?: { code?: string } };
    };
    if (body.error) throw new RpcError(body.error.message, body.error.data?.code);
    return body.result as T;
  }

  /** `GET /metrics` (Prometheus text). */
  async metricsText(): Promise<string> {
    const res = await this.#fetch("/metrics", {});
    return res.text();
  }

  async #fetch(path: string, init: RequestInit): Promise<Response> {
    for (;;) {
      const token = this.token;
      const headers = new Headers(init.headers);
      if (token) headers.set("authorization", `Bearer ${token}`);
      const res = await fetch(path, { ...init, headers });
      if (res.status !== 401) return res;
      this.token = null;
      this.token = await this.askToken();
    }
  }
}
