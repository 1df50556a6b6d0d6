import type { Redis } from "ioredis";
import type { Keys } from "../../storage/keys.js";
import { OwnedLock } from "../../storage/lock.js";

/**
 * Session roles per project: at most one session is a project's *master* (the one that
 * orchestrates, to which the other sessions report); every other session is a *member*. The
 * designation is explicit (`session.set_role`) and lasts until it is changed.
 */

export type SessionRole = "master" | "member";

export const masterOf = (redis: Redis, keys: Keys, project: string): Promise<string | null> =>
  redis.get(keys.sessions.master(project));

export async function roleOf(
  redis: Redis,
  keys: Keys,
  project: string,
  sessionId: string,
): Promise<SessionRole> {
  return (await masterOf(redis, keys, project)) === sessionId ? "master" : "member";
}

/** Sets the session's role; resolves with the project's master before the change. */
export async function setRole(
  redis: Redis,
  keys: Keys,
  project: string,
  sessionId: string,
  role: SessionRole,
): Promise<string | null> {
  const key = keys.sessions.master(project);
  if (role === "master") return (await redis.set(key, sessionId, "GET")) ?? null;
  // Only the master itself steps down (compare-and-delete): another session's designation stays.
  const previous = await redis.get(key);
  await new OwnedLock(redis, key, sessionId).release();
  return previous;
}
