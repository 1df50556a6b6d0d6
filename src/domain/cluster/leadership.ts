import type { Redis } from "ioredis";
import type { QueueKeys } from "../../storage/keys.js";
import { OwnedLock } from "../../storage/lock.js";
import type { QueueScripts } from "../../storage/scripts.js";

/**
 * Leader election among server processes: `SET NX PX` semantics in one script that also
 * extends our own term (compare-and-extend). Each new term has a larger epoch; leader-only
 * work passes the token '<id>|<epoch>' to its scripts, which refuse it once another term began.
 */

export interface LeadershipState {
  leading: boolean;
  epoch: number;
  /** '<id>|<epoch>' while leading, '' otherwise. */
  token: string;
  leaderId: string | null;
}

export class Leadership {
  #state: LeadershipState = { leading: false, epoch: 0, token: "", leaderId: null };

  constructor(
    private readonly scripts: QueueScripts,
    private readonly q: QueueKeys,
    readonly candidateId: string,
    /** Term length: a dead leader is replaced within this plus one renewal interval. */
    readonly termMs: number,
  ) {}

  get state(): LeadershipState {
    return this.#state;
  }

  /** Takes or extends leadership when possible; call at least every termMs / 3. */
  async tick(): Promise<LeadershipState> {
    const [epoch, leading, holder] = (await this.scripts.run("acquireLeadership", this.q.leader, [
      this.candidateId,
      this.termMs,
    ])) as [number, number, string?];
    this.#state =
      leading === 1
        ? { leading: true, epoch, token: `${this.candidateId}|${epoch}`, leaderId: this.candidateId }
        : { leading: false, epoch, token: "", leaderId: holder ?? null };
    return this.#state;
  }

  /** Stops leading (on shutdown or partition) without waiting for the term to run out. */
  async resign(redis: Redis): Promise<void> {
    if (!this.#state.leading) return;
    const token = this.#state.token;
    this.#state = { leading: false, epoch: this.#state.epoch, token: "", leaderId: null };
    await new OwnedLock(redis, this.q.leader, token).release();
  }
}
