import type { DomainEvent } from "../contract/events.js";
import { AppError } from "../core/errors.js";
import { keySafeId } from "../core/ids.js";

/**
 * The query of a live-event subscription, shared by `GET /events` (SSE) and `GET /ws`
 * (WebSocket): which events a client wants and where it resumes.
 *
 *   prefix=task.,hook.   event name starts with one of these
 *   session=<id>,...     the event concerns one of these Claude Code sessions
 *   instance=<id>,...    the event names one of these instances (workers, agents, sessions)
 *   task=t-42,...        the event is about one of these tasks
 *   lastEventId=<id>     resume after this stream id (SSE clients may send Last-Event-ID)
 *
 * Values inside one parameter are alternatives (OR); different parameters must all hold
 * (AND). Which payload fields name a session, instance or task is listed at each matcher
 * below and in docs/api.md; the fields are those the Lua scripts' XADDs and the handlers'
 * `ctx.emit` calls write.
 */

export interface EventQuery {
  matches: (event: DomainEvent) => boolean;
  /** Stream id to resume after, when the client gave one. */
  afterId?: string;
}

const STREAM_ID = /^(\d{1,20})-(\d{1,20})$/;
const U64_MAX = 2n ** 64n - 1n;

/**
 * A stream id Redis can resume after: `<ms>-<seq>`, each part an unsigned 64-bit number, and
 * not the very last id (nothing can follow it, and Redis refuses to start after it).
 */
function isResumableStreamId(id: string): boolean {
  const m = STREAM_ID.exec(id);
  if (!m) return false;
  const ms = BigInt(m[1] as string);
  const seq = BigInt(m[2] as string);
  return ms <= U64_MAX && seq <= U64_MAX && !(ms === U64_MAX && seq === U64_MAX);
}

interface Param {
  name: string;
  pattern: RegExp;
  expected: string;
}

const PARAMS: Record<"prefix" | "session" | "instance" | "task", Param> = {
  prefix: {
    name: "prefix",
    pattern: /^[A-Za-z0-9._:-]{1,128}$/,
    expected: "an event-name prefix like task.",
  },
  // Claude Code's session ids are UUIDs; hooks accept any string up to 200 characters.
  session: {
    name: "session",
    pattern: /^[^,\s\p{Cc}]{1,200}$/u,
    expected: "a session id (no spaces or commas)",
  },
  instance: {
    name: "instance",
    pattern: keySafeId(),
    expected: "an instance id (letters, digits and . _ : @ / -, max 128)",
  },
  task: { name: "task", pattern: /^t-\d+$/, expected: 'a task id like "t-42"' },
};

type Payload = Record<string, unknown>;

const record = (value: unknown): Payload | undefined =>
  typeof value === "object" && value !== null ? (value as Payload) : undefined;

/** The comma-separated values of one parameter (it may repeat), each checked against its pattern. */
function values(params: URLSearchParams, param: Param): string[] {
  const list = params
    .getAll(param.name)
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter(Boolean);
  for (const value of list) {
    if (!param.pattern.test(value)) {
      throw new AppError(
        "VALIDATION",
        `Invalid ${param.name} filter ${JSON.stringify(value)}: expected ${param.expected}`,
        {
          param: param.name,
          value,
        },
      );
    }
  }
  return list;
}

/**
 * Task events (written by the queue scripts) carry the whole task as `payload.task`;
 * other events may name a task as `payload.taskId`.
 */
function namesTask(payload: Payload, ids: ReadonlySet<string>): boolean {
  return [record(payload.task)?.id, payload.taskId].some((v) => typeof v === "string" && ids.has(v));
}

/**
 * An instance is named as `instanceId` (hook, instance.failed/unregistered events),
 * `instance.id` (instance.registered), `workerId` (the worker that claimed, was assigned,
 * completed or failed a task), `previousAssignment` (unassigned, cancelled) or as the task's
 * current holder `task.assignedTo`.
 */
function namesInstance(payload: Payload, ids: ReadonlySet<string>): boolean {
  const task = record(payload.task);
  return [
    payload.instanceId,
    record(payload.instance)?.id,
    payload.workerId,
    payload.previousAssignment,
    task?.assignedTo,
  ].some((v) => typeof v === "string" && ids.has(v));
}

/**
 * A session is named as `sessionId` (hook events), `instance.sessionId` (its registration),
 * by a task's metadata `sessionId` (tasks synced from its todos), and through the instance
 * ClaudeBench registers for it (`ParseOptions.sessionInstanceId`): tasks it holds, its hook
 * decisions.
 */
function concernsSession(
  payload: Payload,
  ids: ReadonlySet<string>,
  instances: ReadonlySet<string>,
): boolean {
  if (typeof payload.sessionId === "string" && ids.has(payload.sessionId)) return true;
  const instanceSession = record(payload.instance)?.sessionId;
  if (typeof instanceSession === "string" && ids.has(instanceSession)) return true;
  const taskSession = record(record(payload.task)?.metadata)?.sessionId;
  if (typeof taskSession === "string" && ids.has(taskSession)) return true;
  return namesInstance(payload, instances);
}

interface ParseOptions {
  /** SSE's `Last-Event-ID` header; it wins over the `lastEventId` parameter. */
  lastEventId?: string;
  /** Other parameters the endpoint reads itself (the WebSocket's `token`). */
  allow?: readonly string[];
  /**
   * The instance ClaudeBench registers for a session (the domain's naming, which the
   * composition root hands the transports), so that `session=` also follows what it holds.
   */
  sessionInstanceId: (sessionId: string) => string;
}

/**
 * Reads a subscription's query. Throws VALIDATION for a malformed value or an unknown
 * parameter, so that a typo does not silently subscribe to everything.
 */
export function parseEventQuery(params: URLSearchParams, options: ParseOptions): EventQuery {
  for (const name of params.keys()) {
    if (!Object.hasOwn(PARAMS, name) && name !== "lastEventId" && !options.allow?.includes(name)) {
      throw new AppError(
        "VALIDATION",
        `Unknown parameter ${JSON.stringify(name)}: use prefix, session, instance, task or lastEventId`,
        { param: name },
      );
    }
  }
  const prefixes = values(params, PARAMS.prefix);
  const sessions = new Set(values(params, PARAMS.session));
  const instances = new Set(values(params, PARAMS.instance));
  const tasks = new Set(values(params, PARAMS.task));
  const sessionInstances = new Set([...sessions].map(options.sessionInstanceId));

  const resume = options.lastEventId ?? params.get("lastEventId") ?? undefined;
  if (resume !== undefined && !isResumableStreamId(resume)) {
    throw new AppError(
      "VALIDATION",
      `Invalid last event id ${JSON.stringify(resume)}: expected a stream id like 1700000000000-0`,
      {
        param: "lastEventId",
        value: resume,
      },
    );
  }

  const matches = (e: DomainEvent): boolean =>
    (prefixes.length === 0 || prefixes.some((p) => e.event.startsWith(p))) &&
    (tasks.size === 0 || namesTask(e.payload, tasks)) &&
    (instances.size === 0 || namesInstance(e.payload, instances)) &&
    (sessions.size === 0 || concernsSession(e.payload, sessions, sessionInstances));
  return resume === undefined ? { matches } : { matches, afterId: resume };
}
