import { z } from "zod";
import { keySafeId } from "../../core/ids.js";
import { defineHandler } from "../../services.js";
import { instanceId } from "./schemas.js";

const DECISION_TTL_S = 24 * 3600;

export const systemQuorumVote = defineHandler({
  name: "system.quorum.vote",
  description:
    "Casts this instance's vote on a decision (a re-vote replaces it). The first value backed by a majority — of totalInstances, or of the live instances when it is omitted — becomes the decision, announced once by a quorum.decision.made event. Decisions expire after a day.",
  input: z.object({
    decision: z.string().regex(keySafeId()),
    instanceId,
    value: z.string().min(1).max(1000),
    totalInstances: z.number().int().min(1).max(10_000).optional(),
  }),
  output: z.object({
    voted: z.boolean(),
    quorumReached: z.boolean(),
    finalDecision: z.string().optional(),
    voteCount: z.number(),
    votesCast: z.number(),
    totalInstances: z.number(),
    majority: z.number(),
  }),
  expose: { mcp: { annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true } } },
  handle: async (input, ctx) => {
    const outcome = await ctx.coordination.vote({
      decision: input.decision,
      voter: input.instanceId,
      value: input.value,
      total: input.totalInstances ?? 0,
      liveSince: Date.now() - ctx.instances.heartbeatTimeoutMs,
      ttlSec: DECISION_TTL_S,
    });
    const { finalDecision, ...rest } = outcome;
    return { voted: true, ...rest, ...(finalDecision === null ? {} : { finalDecision }) };
  },
});
