import { toKeySafeId } from "../../core/ids.js";
import { sessionInstanceId } from "../coordination/identity.js";
import type { InstanceRegistry } from "../coordination/instances.js";

/**
 * Each Claude Code session is an instance of the cluster (`cc-<session id>`, role
 * `claude-code`; domain/coordination/identity.ts), so its todos become tasks it holds and other
 * sessions see who does what. Sessions idle for minutes between prompts, so theirs is a long
 * heartbeat timeout; every hook call is a heartbeat, and a session first seen mid-way (no
 * SessionStart) registers then.
 */

interface SessionInfo {
  sessionId: string;
  cwd?: string;
  model?: string;
  source?: string;
  transcriptPath?: string;
}

/** Heartbeats the session, registering it when it is new (or `register` asks to refresh it). */
export async function touchSession(
  instances: InstanceRegistry,
  session: SessionInfo,
  register = false,
): Promise<string> {
  const id = sessionInstanceId(session.sessionId);
  if (!register && (await instances.heartbeat(id))) return id;
  const metadata: Record<string, unknown> = {};
  if (session.cwd) {
    metadata.cwd = session.cwd;
    metadata.project = projectOf(session.cwd);
  }
  if (session.model) metadata.model = session.model;
  if (session.source) metadata.source = session.source;
  if (session.transcriptPath) metadata.transcriptPath = session.transcriptPath;
  await instances.register({
    id,
    roles: ["claude-code"],
    metadata,
    sessionId: session.sessionId,
  });
  return id;
}

/**
 * The working directory a session registered with: `cwd` from our hooks, `projectDir` from the
 * original hook bridge (which sends none with its later calls, e.g. hook.todo_write).
 */
export async function sessionDirectory(instances: InstanceRegistry, id: string): Promise<string | undefined> {
  const metadata = (await instances.get(id))?.metadata;
  const dir = metadata?.cwd ?? metadata?.projectDir;
  return typeof dir === "string" && dir.startsWith("/") ? dir : undefined;
}

/** The project a working directory belongs to: its last path segment (a channel name). */
export function projectOf(cwd: string): string {
  const name = cwd.replace(/\/+$/, "").split("/").pop() || "root";
  return toKeySafeId(name, 128);
}
