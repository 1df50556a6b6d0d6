/**
 * The server, as the page reaches it: JSON-RPC on /rpc with the bearer token when the server
 * has one. The token is asked once and kept in sessionStorage (this tab only). What a person
 * does here (`act`) names the dashboard as its caller (`x-instance-id: dashboard`), so the
 * audit trail, and the task history the page shows from it, tell it from what agents did.
 * Reads go without it: they are not audited, and a rate limit keeps counting them per address.
 */

const TOKEN_KEY = "claudebench.token";
/** The caller the audit trail records for the page's calls (docs/dashboard.md, "Actions"). */
export const DASHBOARD_ACTOR = "dashboard";

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

  /** A call made by a person on the page (create, cancel, ...): the audit trail records the dashboard as its caller. */
  act<T>(method: string, params: Record<string, unknown>): Promise<T> {
    return this.call(method, params, { "x-instance-id": DASHBOARD_ACTOR });
  }

  async call<T>(
    method: string,
    params: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ): Promise<T> {
    const res = await this.#fetch("/rpc", {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++this.#id, method, params }),
    });
    const body = (await res.json()) as {
      result?: T;
      error?: { message: string; data?: { code?: string } };
    };
    if (body.error) throw new RpcError(body.error.message, body.error.data?.code);
    return body.result as T;
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
