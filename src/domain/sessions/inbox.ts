import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { Keys } from "../../storage/keys.js";
import { LuaScript } from "../../storage/lua-script.js";

/**
 * A session's inbox: messages other sessions (or workflows) leave for it. The session reads
 * them at its next prompt (hook.claude UserPromptSubmit adds them to the model's context) or
 * through `session.inbox`. Capped and expiring, so an inbox nobody reads stays small.
 */

export interface InboxMessage {
  id: string;
  /** The sending session, when a session sent it. */
  from: string | null;
  /** What kind of news: `todos`, `task.dead_lettered`, or anything a workflow names. */
  kind: string;
  text: string;
  data?: unknown;
  at: string;
}

const PUSH = LuaScript.fromFile("pushInbox-2.lua");
export const INBOX_MAX = 100;
const INBOX_TTL_MS = 7 * 24 * 3_600_000;

/** Appends the message; false when a message with the same dedupe key was appended before. */
export async function pushInbox(
  redis: Redis,
  keys: Keys,
  sessionId: string,
  message: Omit<InboxMessage, "id" | "at">,
  dedupeKey?: string,
): Promise<{ delivered: boolean; message: InboxMessage }> {
  const full: InboxMessage = { id: randomUUID(), ...message, at: new Date().toISOString() };
  const [appended] = (await PUSH.run(
    redis,
    [keys.sessions.inbox(sessionId), keys.sessions.inboxDedupe(dedupeKey ?? "-")],
    [JSON.stringify(full), INBOX_MAX, INBOX_TTL_MS, dedupeKey ? "1" : "0"],
  )) as [number];
  return { delivered: appended === 1, message: full };
}

/** The waiting messages, oldest first; `drain` also empties the inbox (in the same step). */
export async function readInbox(
  redis: Redis,
  keys: Keys,
  sessionId: string,
  drain: boolean,
): Promise<InboxMessage[]> {
  const key = keys.sessions.inbox(sessionId);
  let raw: string[];
  if (drain) {
    const replies = await redis.multi().lrange(key, 0, -1).del(key).exec();
    raw = (replies?.[0]?.[1] as string[] | undefined) ?? [];
  } else {
    raw = await redis.lrange(key, 0, -1);
  }
  return raw.map((m) => JSON.parse(m) as InboxMessage);
}

/** How many messages wait for the session. */
export const inboxSize = (redis: Redis, keys: Keys, sessionId: string): Promise<number> =>
  redis.llen(keys.sessions.inbox(sessionId));

/** The messages as context for a model: one line each, with who sent it and when. */
export function inboxContext(messages: readonly InboxMessage[]): string {
  const lines = messages.map(
    (m) => `- [${m.kind}${m.from ? ` from session ${m.from}` : ""}, ${m.at}] ${m.text}`,
  );
  return `ClaudeBench messages for this session:\n${lines.join("\n")}`;
}
