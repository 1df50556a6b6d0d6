import type { Redis } from "ioredis";
import type { CoordinationKeys } from "../../storage/coordination-keys.js";
import { OwnedLock } from "../../storage/lock.js";
import type { CoordinationScripts } from "../../storage/scripts.js";

/**
 * Leader election among server processes: `SET NX PX` semantics in one script that also
 * extends our own term (compare-and-extend). Each new term has a larger epoch; leader-only
 * work passes the token '<id>|<epoch>' to its scripts, which refuse it once another term began.
 *
 * A leader that cannot renew stops acting as leader before its term ends: a term granted by a
 * call is counted from the moment the call was sent, on this process' monotonic clock, and
 * `state` says leading only until then. Redis counts the same term from when it ran the script,
 * which is later, so this process stops leading before Redis lets another take over (clock
 * rates differ by parts per million: microseconds over a term). A process that stalls — a
 * long pause, a Redis call that does not come back — resumes as a follower, not as the
 * leader it was. Leader-only scripts are fenced by the token in Redis besides; this guards the
 * rest (leader-only subscriptions, what `system.health` says).
 */

export interface LeadershipState {
  leading: boolean;
  epoch: number;
  /** '<id>|<epoch>' while leading, '' otherwise. */
  token: string;
  leaderId: string | null;
}

/** Milliseconds on a monotonic clock (performance.now() unless a test drives it). */
type Clock = () => number;

export class Leadership {
  #state: LeadershipState = { leading: false, epoch: 0, token: "", leaderId: null };
  /** While leading: the end of our term on `clock`. */
  #termEnds = 0;
  /** While leading: when this leadership began on `clock`; a term that lapsed or was lost ends it. */
  #since = 0;

  constructor(
    private readonly scripts: CoordinationScripts,
    private readonly q: CoordinationKeys,
    readonly candidateId: string,
    /** Term length: a dead leader is replaced within this plus one renewal interval. */
    readonly termMs: number,
    private readonly clock: Clock = () => performance.now(),
  ) {}

  /** Renew (or try to take) leadership this often: a third of the term, so two renewals may fail. */
  get renewMs(): number {
    return Math.max(1, Math.floor(this.termMs / 3));
  }

  /** The current state; leading only until the term of the last successful call runs out. */
  get state(): LeadershipState {
    const lapsed = this.#state.leading && this.clock() >= this.#termEnds;
    return lapsed ? { leading: false, epoch: this.#state.epoch, token: "", leaderId: null } : this.#state;
  }

  /** Takes or extends leadership when possible; call every `renewMs`. */
  async tick(): Promise<LeadershipState> {
    const sentAt = this.clock();
    const wasLeading = this.state.leading;
    const [epoch, leading, holder] = (await this.scripts.run("acquireLeadership", this.q.leader, [
      this.candidateId,
      this.termMs,
    ])) as [number, number, string?];
    this.#termEnds = sentAt + this.termMs;
    if (leading === 1 && !wasLeading) this.#since = sentAt;
    this.#state =
      leading === 1
        ? { leading: true, epoch, token: `${this.candidateId}|${epoch}`, leaderId: this.candidateId }
        : { leading: false, epoch, token: "", leaderId: holder ?? null };
    return this.state;
  }

  /**
   * How long this process has led without a break, on `clock` (0 when it does not lead). A
   * leader that lost its term (a stall, an outage of Redis) and took it back starts again from 0.
   */
  ledForMs(): number {
    return this.state.leading ? this.clock() - this.#since : 0;
  }

  /**
   * Stops leading (on shutdown or partition) without waiting for the term to run out; a term
   * that lapsed here but may still be ours in Redis is given back too.
   */
  async resign(redis: Redis): Promise<void> {
    if (!this.#state.leading) return;
    const token = this.#state.token;
    this.#state = { leading: false, epoch: this.#state.epoch, token: "", leaderId: null };
    await new OwnedLock(redis, this.q.leader, token).release();
  }
}
