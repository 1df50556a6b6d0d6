import type { ClaudeBenchClient } from "./http-client.js";
import type { ServerContact } from "./server-contact.js";

/**
 * A client's life as an instance of the cluster (docs/cluster.md, "Instances"): it registers,
 * heartbeats as often as the server asks (heartbeatIntervalMs, a third of the timeout after
 * which the leader declares it failed and hands its tasks to others), registers again when a
 * heartbeat answers that the server does not know it (a Redis that lost its state, or a failure
 * declared while it could not reach any server), and unregisters when it stops cleanly.
 *
 * A failed heartbeat is told to `contact` (one line per outage, not per attempt) and the next
 * one follows at the usual interval: heartbeating is how the instance keeps its tasks, so it
 * never backs off.
 */

interface Registration {
  roles: string[];
  capabilities?: string[];
  /** Most tasks held at once (0 = no limit). */
  maxTasks: number;
  metadata: Record<string, unknown>;
}

/** What a heartbeat carries: free text and figures shown to others (system.instances). */
export interface Liveness {
  status: string;
  load: Record<string, unknown>;
}

interface PresenceOptions {
  client: ClaudeBenchClient;
  id: string;
  registration: Registration;
  contact: ServerContact;
  report: (line: string) => void;
  liveness: () => Liveness;
}

/** Until the first registration answers: what system.register answers by default (30 s / 3). */
const DEFAULT_INTERVAL_MS = 10_000;

export class InstancePresence {
  #intervalMs = DEFAULT_INTERVAL_MS;
  #timer: NodeJS.Timeout | null = null;
  /** The heartbeat (and re-registration) in progress, waited for before unregistering. */
  #beating: Promise<void> = Promise.resolve();
  #registered = false;
  #stopped = false;

  constructor(private readonly options: PresenceOptions) {}

  /** One attempt; a refusal or an unreachable server throws (ClaudeBenchError). */
  async register(): Promise<void> {
    const { client, id, registration } = this.options;
    const answer = await client.call<{ heartbeatIntervalMs: number }>("system.register", {
      id,
      ...registration,
    });
    this.#intervalMs = answer.heartbeatIntervalMs;
    this.#registered = true;
  }

  /** Heartbeats until stop(); call after register() succeeded. */
  start(): void {
    this.#schedule();
  }

  /** Stops heartbeating and unregisters (the server hands back whatever the instance still holds). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#beating;
    if (!this.#registered) return;
    const { client, id, report } = this.options;
    try {
      const { tasksReassigned } = await client.call<{ tasksReassigned: number }>("system.unregister", {
        instanceId: id,
      });
      report(
        `unregistered ${id}${tasksReassigned > 0 ? `; the server handed back ${tasksReassigned} task(s) it still held` : ""}`,
      );
    } catch (err) {
      report(
        `! ${id} could not unregister (${(err as Error).message}); the server declares it failed once its heartbeats are missed`,
      );
    }
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#beating = this.#beat().finally(() => this.#schedule());
    }, this.#intervalMs);
  }

  async #beat(): Promise<void> {
    const { client, id, contact, report, liveness } = this.options;
    try {
      const answer = await client.call<{ alive: boolean; nextHeartbeatMs: number }>("system.heartbeat", {
        instanceId: id,
        ...liveness(),
      });
      contact.succeeded();
      this.#intervalMs = answer.nextHeartbeatMs;
      if (answer.alive || this.#stopped) return;
      await this.register();
      report(
        `! the server no longer knew ${id} (its Redis lost its state, or it declared ${id} failed after missed heartbeats and handed its tasks to others); registered again`,
      );
    } catch (err) {
      contact.failed(err);
    }
  }
}
