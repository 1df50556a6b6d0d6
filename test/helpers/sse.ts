import { Waiters } from "./waiters.js";

/**
 * A minimal Server-Sent Events reader over fetch, for GET /events: collects every message
 * (`id:` and `data:` lines) and lets a test wait until a number of them have arrived.
 */

export interface SseMessage {
  id: string | undefined;
  data: string;
}

export class SseReader {
  readonly messages: SseMessage[] = [];
  /** Whether the server's preamble (`retry:`) has arrived. */
  #opened = false;
  #ended = false;
  #error: unknown = null;
  readonly #waiters = new Waiters();
  #buffer = "";
  readonly #controller: AbortController;
  readonly #pump: Promise<void>;

  private constructor(response: Response, controller: AbortController) {
    this.#controller = controller;
    this.#pump = this.#read(response);
  }

  /** Connects and resolves once the stream is open (status 200 and its first bytes read). */
  static async open(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
    const controller = new AbortController();
    const response = await fetch(url, {
      headers: { accept: "text/event-stream", ...headers },
      signal: controller.signal,
    });
    if (response.status !== 200) {
      controller.abort();
      throw new Error(`GET ${url} answered ${response.status}`);
    }
    const reader = new SseReader(response, controller);
    await reader.#until(() => reader.#opened, 5000, "the stream to open");
    return reader;
  }

  /** Waits until at least `count` messages have arrived; returns all of them. */
  async waitFor(count: number, timeoutMs = 5000): Promise<SseMessage[]> {
    await this.#until(() => this.messages.length >= count, timeoutMs, `${count} SSE messages`);
    return this.messages;
  }

  /** The messages' data parsed as JSON. */
  events<T = { id: string; event: string; payload: Record<string, unknown>; source: string }>(): T[] {
    return this.messages.map((m) => JSON.parse(m.data) as T);
  }

  async close(): Promise<void> {
    this.#controller.abort();
    await this.#pump;
  }

  #until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return this.#waiters.until(
      done,
      () =>
        this.#ended || this.#error
          ? `stream ended while waiting for ${what} (${this.messages.length} messages)`
          : null,
      () => `timed out waiting for ${what} (${this.messages.length} messages)`,
      timeoutMs,
    );
  }

  async #read(response: Response): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        this.#buffer += decoder.decode(chunk, { stream: true });
        this.#parse();
        this.#waiters.wake();
      }
    } catch (err) {
      if (!this.#controller.signal.aborted) this.#error = err;
    } finally {
      this.#ended = true;
      this.#waiters.wake();
    }
  }

  #parse(): void {
    let end = this.#buffer.indexOf("\n\n");
    while (end >= 0) {
      const frame = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      end = this.#buffer.indexOf("\n\n");
      let id: string | undefined;
      const data: string[] = [];
      for (const line of frame.split("\n")) {
        if (line.startsWith("retry:")) this.#opened = true;
        else if (line.startsWith("id:")) id = line.slice(3).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length > 0) this.messages.push({ id, data: data.join("\n") });
    }
  }
}
