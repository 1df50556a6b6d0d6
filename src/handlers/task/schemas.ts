import { z } from "zod";
import { PRIORITY_NAMES, TASK_STATUSES, type Task } from "../../contract/tasks.js";
import { KEY_SAFE_ID_HINT, keySafeId } from "../../core/ids.js";
import { jsonAtMost, METADATA_MAX_BYTES } from "../../core/json-bounds.js";

/** Ids of workers and instances: they become part of key names, so a safe alphabet. */
export const workerId = z
  .string()
  .regex(keySafeId(), KEY_SAFE_ID_HINT)
  .describe("Id of the worker or instance");

export const taskId = z.string().regex(/^t-\d+$/, 'a task id like "t-42"');

export const priority = z
  .union([
    z.number().int().min(0).max(100),
    z.enum(Object.keys(PRIORITY_NAMES) as [keyof typeof PRIORITY_NAMES, ...(keyof typeof PRIORITY_NAMES)[]]),
  ])
  .transform((p) => (typeof p === "number" ? p : PRIORITY_NAMES[p]))
  .describe("0..100 (higher first) or low=25, medium=50, high=75, critical=100");

export const status = z.enum(TASK_STATUSES);

export const channel = z
  .string()
  .regex(keySafeId(), KEY_SAFE_ID_HINT)
  .describe("Grouping label, e.g. a project or session");

export const metadata = jsonAtMost(METADATA_MAX_BYTES, z.record(z.string().min(1).max(128), z.unknown()));

export const token = z.number().int().positive().describe("Lease token (fencing) returned by the claim");

export const capabilities = z.array(z.string().min(1).max(64)).max(32);

export const task = z.object({
  id: z.string(),
  text: z.string(),
  description: z.string().optional(),
  priority: z.number(),
  status,
  channel: z.string().optional(),
  requires: z.array(z.string()).optional(),
  assignedTo: z.string().optional(),
  attempts: z.number(),
  maxAttempts: z.number(),
  metadata: z.record(z.string(), z.unknown()),
  result: z.unknown().optional(),
  error: z.string().optional(),
  deadLettered: z.boolean().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  claimedAt: z.string().optional(),
  completedAt: z.string().optional(),
  leaseToken: z.number().optional(),
  leaseExpiresAt: z.string().optional(),
  expiresAt: z.string().optional(),
  runAfter: z.string().optional(),
});

/**
 * The original ClaudeBench names the task `id` in some methods and `taskId` in others;
 * every method that acts on one task accepts both.
 */
export const taskRef = {
  id: taskId.optional().describe("The task id (or use taskId)"),
  taskId: taskId.optional().describe("The task id (or use id)"),
};

export function resolveTaskId(input: { id?: string; taskId?: string }): string {
  return (input.id ?? input.taskId) as string;
}

export const hasTaskRef = (input: { id?: string; taskId?: string }) => Boolean(input.id ?? input.taskId);
export const TASK_REF_MESSAGE = { message: "id (or taskId) is required", path: ["id"] };

/** For transitions by a worker: who holds the lease. One of the two is required. */
export const holderFields = {
  workerId: workerId.optional().describe("The worker holding the lease"),
  token: token.optional(),
};
export const hasHolder = (input: { workerId?: string; token?: number }) =>
  input.workerId !== undefined || input.token !== undefined;
export const HOLDER_MESSAGE = {
  message: "workerId or token is required: only the lease holder may do this",
  path: ["workerId"],
};

export const leaseMs = z
  .number()
  .int()
  .min(1000)
  .max(3_600_000)
  .describe("Lease length in ms (default 30000)");

/** What a claim may take, beside the worker: also the `claimNext` of task.complete. */
export const claimOptions = {
  maxTasks: z.number().int().min(1).max(10).default(1).describe("How many tasks to take at once"),
  leaseMs: leaseMs.optional(),
  channel: channel.optional().describe("Only tasks of this channel"),
  capabilities: capabilities.optional().describe("What this worker can do (for tasks that require some)"),
};

export const claimAnswer = z.object({
  claimed: z.boolean(),
  taskId: z.string().optional(),
  task: task.optional(),
  tasks: z.array(task),
  token: z.number().optional(),
  leaseExpiresAt: z.string().optional(),
});

/** The claimed tasks as task.claim answers: the first one also on its own (the original's shape). */
export function toClaimAnswer(tasks: Task[]): z.input<typeof claimAnswer> {
  const first = tasks[0];
  if (!first) return { claimed: false, tasks };
  return {
    claimed: true,
    taskId: first.id,
    task: first,
    tasks,
    token: first.leaseToken,
    leaseExpiresAt: first.leaseExpiresAt,
  };
}
