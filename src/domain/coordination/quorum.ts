import type { CoordinationKeys } from "../../storage/coordination-keys.js";
import type { CoordinationScripts } from "../../storage/scripts.js";

export interface VoteOutcome {
  quorumReached: boolean;
  finalDecision: string | null;
  /** Votes for the value just cast. */
  voteCount: number;
  votesCast: number;
  totalInstances: number;
  majority: number;
}

/** Majority votes per decision, each decision in its own expiring keys (quorumVote-1.lua). */
export async function castVote(
  scripts: CoordinationScripts,
  q: CoordinationKeys,
  vote: { decision: string; voter: string; value: string; total: number; liveSince: number; ttlSec: number },
): Promise<VoteOutcome> {
  const [reached, decided, same, cast, total, majority] = (await scripts.run(
    "quorumVote",
    q.quorum(vote.decision),
    [vote.decision, vote.voter, vote.value, vote.total, vote.liveSince, vote.ttlSec],
  )) as [number, string, number, number, number, number];
  return {
    quorumReached: reached === 1,
    finalDecision: decided === "" ? null : decided,
    voteCount: same,
    votesCast: cast,
    totalInstances: total,
    majority,
  };
}
