/**
 * The task (its shape is the contract's) read from the Redis hash the scripts keep
 * (all values strings; metadata entries as `m:<key>` fields holding JSON).
 */

import type { Task, TaskStatus } from "../../contract/tasks.js";
import { isoTime } from "../../core/iso-time.js";

const iso = (ms: string) => isoTime(Number(ms));

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

/** A field/value array (HGETALL or a script's return) → Task. */
export function taskFromFlat(flat: readonly string[]): Task {
  const h: Record<string, string> = {};
  const metadata: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const field = flat[i] as string;
    const value = flat[i + 1] as string;
    if (field.startsWith("m:")) metadata[field.slice(2)] = parseJson(value);
    else h[field] = value;
  }
  return taskFromHash(h, metadata);
}

/** A script's answer (the task hash as one JSON object, see coordination-prelude.lua `encoded`) → Task. */
export const taskFromJson = (text: string): Task => taskFromHash(JSON.parse(text) as Record<string, string>);

/** A Redis hash (or an event's task snapshot) → Task. */
export function taskFromHash(h: Record<string, string>, metadata?: Record<string, unknown>): Task {
  let meta = metadata;
  if (!meta) {
    meta = {};
    // for...in, not Object.entries: no array per field on every task answer
    for (const field in h) {
      if (field.startsWith("m:")) meta[field.slice(2)] = parseJson(h[field] as string);
    }
  }
  const task: Task = {
    id: h.id as string,
    text: h.text ?? "",
    priority: Number(h.priority),
    status: h.status as TaskStatus,
    attempts: Number(h.attempts ?? 0),
    maxAttempts: Number(h.maxAttempts ?? 1),
    metadata: meta,
    createdAt: iso(h.createdAt as string),
    updatedAt: iso((h.updatedAt ?? h.createdAt) as string),
  };
  if (h.description !== undefined) task.description = h.description;
  if (h.channel !== undefined) task.channel = h.channel;
  if (h.requires !== undefined) task.requires = parseJson(h.requires) as string[];
  if (h.assignedTo !== undefined) task.assignedTo = h.assignedTo;
  if (h.result !== undefined) task.result = parseJson(h.result);
  if (h.error !== undefined) task.error = h.error;
  if (h.deadLettered !== undefined) task.deadLettered = true;
  if (h.claimedAt !== undefined) task.claimedAt = iso(h.claimedAt);
  if (h.completedAt !== undefined) task.completedAt = iso(h.completedAt);
  if (h.leaseToken !== undefined) task.leaseToken = Number(h.leaseToken);
  if (h.leaseExpiresAt !== undefined) task.leaseExpiresAt = iso(h.leaseExpiresAt);
  if (h.expiresAt !== undefined) task.expiresAt = iso(h.expiresAt);
  if (h.runAfter !== undefined) task.runAfter = iso(h.runAfter);
  return task;
}

/** Sequence number of a task id `t-<seq>` (the creation order). */
export const seqOf = (id: string) => Number(id.slice(2));
