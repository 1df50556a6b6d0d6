/**
 * Key names of the Redis request transport. A caller that reaches the cluster through Redis
 * alone (client/redis-rpc.ts) builds them here, and so do the server's keys
 * (storage/keys.ts): both sides name the same stream and reply lists.
 */
export interface RequestStreamKeys {
  /** Stream of JSON-RPC requests executed by exactly one server (consumer group `rpcGroup`). */
  rpcRequests(): string;
  /** Consumer group name on the request stream shared by every server process. */
  readonly rpcGroup: string;
  /** List on which the reply to request `replyId` is pushed for the caller waiting on it. */
  rpcReply(replyId: string): string;
}

export const requestStreamKeys = (prefix: string): RequestStreamKeys => ({
  rpcRequests: () => `${prefix}:rpc:requests`,
  rpcGroup: "servers",
  rpcReply: (replyId) => `${prefix}:rpc:reply:${replyId}`,
});
