import type { CoordinationKeys } from "../../storage/coordination-keys.js";
import type { CoordinationScripts } from "../../storage/scripts.js";
import { type BatchProgress, type BatchSettings, type ItemProcessor, processBatch } from "./batch.js";
import { castVote, type VoteOutcome } from "./quorum.js";

/** Quorum votes and coordinated batches, bound to the queue's scripts and keys so that handlers hold neither. */
export class Coordination {
  constructor(
    private readonly scripts: CoordinationScripts,
    private readonly q: CoordinationKeys,
  ) {}

  /** Casts one vote on a decision (quorum.ts). */
  vote(vote: Parameters<typeof castVote>[2]): Promise<VoteOutcome> {
    return castVote(this.scripts, this.q, vote);
  }

  /** Processes this caller's share of a batch, with every other caller of the same batch id (batch.ts). */
  processBatch(
    batch: Parameters<typeof processBatch>[2],
    processItem: ItemProcessor,
    settings: BatchSettings,
    signal: AbortSignal,
  ): Promise<BatchProgress & { processedByMe: number }> {
    return processBatch(this.scripts, this.q, batch, processItem, settings, signal);
  }
}
