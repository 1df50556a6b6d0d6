import WebSocket from "ws";
import type { DomainEvent } from "../../src/contract/events.js";
import { Waiters } from "./waiters.js";

/**
 * A WebSocket subscriber of GET /ws for tests: collects every frame as a DomainEvent, lets a
 * test wait for a number of them or for the close, and reports a refused upgrade's status.
 */
export class WsReader {
  readonly events: DomainEvent[] = [];
  closed: { code: number; reason: string } | null = null;
  readonly #waiters = new Waiters();

  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => {
      this.events.push(JSON.parse(String(data)) as DomainEvent);
      this.#wake();
    });
    socket.on("close", (code, reason) => {
      this.closed = { code, reason: String(reason) };
      this.#wake();
    });
  }

  /** Opens `url` (ws://...); rejects with `{ status, body }` when the server refuses the upgrade. */
  static open(url: string, options: WebSocket.ClientOptions = {}): Promise<WsReader> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, options);
      const reader = new WsReader(socket);
      socket.once("open", () => resolve(reader));
      socket.once("unexpected-response", (_req, res) => {
        let body = "";
        res.on("data", (d: Buffer) => {
          body += d;
        });
        res.on("end", () =>
          reject(
            Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, body }),
          ),
        );
      });
      socket.once("error", reject);
    });
  }

  async waitFor(count: number, timeoutMs = 5000): Promise<DomainEvent[]> {
    await this.#until(() => this.events.length >= count, timeoutMs, `${count} WebSocket events`);
    return this.events;
  }

  async waitForClose(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    await this.#until(() => this.closed !== null, timeoutMs, "the socket to close", true);
    return this.closed as { code: number; reason: string };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.socket.close();
    await this.waitForClose();
  }

  #wake(): void {
    this.#waiters.wake();
  }

  #until(done: () => boolean, timeoutMs: number, what: string, closing = false): Promise<void> {
    return this.#waiters.until(
      done,
      () =>
        this.closed && !closing
          ? `socket closed (${this.closed.code} ${this.closed.reason}) while waiting for ${what}`
          : null,
      () => `timed out waiting for ${what} (${this.events.length} events)`,
      timeoutMs,
    );
  }
}
