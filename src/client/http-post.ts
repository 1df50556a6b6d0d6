import { Agent, type IncomingMessage, type RequestOptions, request } from "node:http";

/**
 * One POST over node:http(s), for ClaudeBenchClient. Not fetch(): Node 20 loads undici on the
 * first fetch(), which cost a one-shot CLI command (`claudebench task get`) ~40 ms and ~40 MB
 * more than node:http (docs/performance.md, "CLI start-up"). Connections are kept alive between
 * calls (an idle one does not keep the process running), and the bounds fetch had are kept: a
 * connection must be made within 10 s and the whole answer arrive within 300 s.
 */

const CONNECT_TIMEOUT_MS = 10_000;
const ANSWER_TIMEOUT_MS = 300_000;

/** The error code of a connection not made in time: like a refused one, the request was not sent. */
export const CONNECT_TIMEOUT = "ECONNECTTIMEOUT";

export interface PostAnswer {
  status: number;
  body: string;
}

/** Keep-alive agents, one per protocol, made on first use (node:https is loaded only for https URLs). */
export class HttpPoster {
  #http: Agent | undefined;
  #https: Promise<{ agent: Agent; request: typeof request }> | undefined;

  async post(
    url: URL,
    body: string,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<PostAnswer> {
    const { agent, request: send } = url.protocol === "https:" ? await this.#secure() : this.#plain();
    const options: RequestOptions = {
      method: "POST",
      agent,
      headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
      ...(signal ? { signal } : {}),
    };
    return new Promise<PostAnswer>((resolve, reject) => {
      let connectTimer: NodeJS.Timeout | undefined;
      const fail = (err: Error) => {
        clearTimeout(connectTimer);
        clearTimeout(answerTimer);
        reject(err);
      };
      const req = send(url, options, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", fail);
        res.on("end", () => {
          clearTimeout(answerTimer);
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") });
        });
      });
      const answerTimer = setTimeout(
        () => req.destroy(new Error(`no answer within ${ANSWER_TIMEOUT_MS / 1000} s`)),
        ANSWER_TIMEOUT_MS,
      );
      req.on("socket", (socket) => {
        if (!socket.connecting) return; // a kept-alive connection
        connectTimer = setTimeout(() => {
          const err = new Error(`no connection within ${CONNECT_TIMEOUT_MS / 1000} s`);
          req.destroy(Object.assign(err, { code: CONNECT_TIMEOUT }));
        }, CONNECT_TIMEOUT_MS);
        socket.once("connect", () => clearTimeout(connectTimer));
      });
      req.on("error", fail);
      req.end(body);
    });
  }

  #plain(): { agent: Agent; request: typeof request } {
    this.#http ??= new Agent({ keepAlive: true });
    return { agent: this.#http, request };
  }

  #secure(): Promise<{ agent: Agent; request: typeof request }> {
    this.#https ??= import("node:https").then((https) => ({
      agent: new https.Agent({ keepAlive: true }),
      request: https.request,
    }));
    return this.#https;
  }
}
