/**
 * Every Redis key name the server uses is built here, from the configured prefix.
 * Keys that a multi-key script touches together share one hash tag (`{...}`) so the
 * scripts run unchanged on Redis Cluster.
 */
export interface Keys {
  readonly prefix: string;
  /** Stream of JSON-RPC requests executed by exactly one server (consumer group `rpcGroup`). */
  rpcRequests(): string;
  /** Consumer group name on the request stream shared by every server process. */
  readonly rpcGroup: string;
  /** List on which the reply to request `replyId` is pushed for the caller waiting on it. */
  rpcReply(replyId: string): string;
  /** Capped stream of every domain event. */
  events(): string;
}

export function createKeys(prefix: string): Keys {
  return {
    prefix,
    rpcRequests: () => `${prefix}:rpc:requests`,
    rpcGroup: "servers",
    rpcReply: (replyId) => `${prefix}:rpc:reply:${replyId}`,
    events: () => `${prefix}:events`,
  };
}
