import { toKeySafeId } from "../../core/ids.js";

/**
 * One Claude Code session, one instance, whichever path it came by.
 *
 * ClaudeBench's own hooks (`POST /hook/claude`, `claudebench hook`) name a session's instance
 * `cc-<session id>`. The original ClaudeBench's hook bridge (`scripts/claude_code_hooks.py`)
 * names it `claude-code-<first 8 characters of the session id>` and sends the session id beside
 * that name: `system.register` at SessionStart, every `hook.*` call, `system.unregister` at
 * SessionEnd. Both names mean the instance `cc-<session id>`, so a session registered by one
 * path and holding tasks through the other is still one instance, and its SessionEnd releases
 * what it holds. With the session id the bridge's name maps exactly (no clash between two
 * sessions whose ids share 8 characters); without it (a bare `system.heartbeat`) the name is
 * looked up in the alias record the session's registration leaves (the latest session wins).
 */

/** Sessions idle for minutes between prompts: theirs is a long heartbeat timeout. */
export const SESSION_TIMEOUT_MS = 30 * 60_000;

export const sessionInstanceId = (sessionId: string) => `cc-${toKeySafeId(sessionId, 120)}`;

const BRIDGE_PREFIX = "claude-code-";

/** The original hook bridge's name for a session. */
export const bridgeInstanceId = (sessionId: string) => `${BRIDGE_PREFIX}${sessionId.slice(0, 8)}`;

/** Whether `id` has the form of the original bridge's names (only they have an alias record). */
export const isBridgeInstanceId = (id: string) => id.startsWith(BRIDGE_PREFIX);

/**
 * The instance a caller means by `instanceId` with `sessionId`: the session's own when the id is
 * the bridge's name for that session, else the id as given.
 */
export function instanceOf(instanceId: string, sessionId: string | undefined): string {
  return sessionId !== undefined && instanceId === bridgeInstanceId(sessionId)
    ? sessionInstanceId(sessionId)
    : instanceId;
}

/** Whether `instanceId` is the instance of the session `sessionId` (which then gets a session's timeout). */
export const isSessionInstance = (instanceId: string, sessionId: string | undefined) =>
  sessionId !== undefined && instanceId === sessionInstanceId(sessionId);
