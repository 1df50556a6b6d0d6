import { type Command, InvalidArgumentError } from "commander";
import { formatDuration } from "../client/duration.js";
import { ClaudeBenchClient } from "../client/http-client.js";
import { commaList, loadClientConfig } from "../client-config.js";
import { PRIORITY_NAMES, type QueueStats, type Task } from "../contract/tasks.js";
import { action, printTable, URL_OPTION, wholeNumber } from "./output.js";

/**
 * `claudebench task create|list|get|stats|set-priority|release|cancel|retry`: the task API from
 * the terminal. Arguments are checked here, before any call, so that a mistake is one line
 * saying what is accepted rather than the server's validation error.
 */

interface Common {
  url?: string[];
  token?: string;
  json?: boolean;
}

const clientFrom = (opts: Common) => {
  const { urls, token } = loadClientConfig(opts);
  return new ClaudeBenchClient({ url: urls, token });
};

const show = (value: unknown) => console.log(JSON.stringify(value, null, 2));

const PRIORITIES = `0..100|${Object.keys(PRIORITY_NAMES).join("|")}`;

/** A priority as task.create and task.update take it: a whole number 0..100 or a name. */
function priorityArg(value: string): number | string {
  if (/^\d{1,3}$/.test(value) && Number(value) <= 100) return Number(value);
  if (Object.hasOwn(PRIORITY_NAMES, value)) return value;
  throw new InvalidArgumentError(`Use ${PRIORITIES}.`);
}

function metadataArg(value: string): Record<string, unknown> {
  const example = `e.g. --metadata '{"team":"web"}'`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw new InvalidArgumentError(
      `It is not JSON (${(err as Error).message}): give a JSON object, ${example}.`,
    );
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
    throw new InvalidArgumentError(`Give a JSON object, ${example}.`);
  return parsed as Record<string, unknown>;
}

/** A repeatable option whose values may also be comma lists. */
const listArg = (value: string, previous: string[] = []) => [...previous, ...commaList(value)];

function printTask(task: Task): void {
  const lines: [string, unknown][] = [
    ["id", task.id],
    ["status", task.status + (task.deadLettered ? " (dead letter)" : "")],
    ["priority", task.priority],
    ["text", task.text],
    ["channel", task.channel],
    ["requires", task.requires?.join(", ")],
    ["assigned to", task.assignedTo],
    ["attempts", `${task.attempts}/${task.maxAttempts}`],
    ["lease until", task.leaseExpiresAt],
    ["created", task.createdAt],
    ["completed", task.completedAt],
    ["error", task.error],
    ["result", task.result === undefined ? undefined : JSON.stringify(task.result)],
  ];
  printTable(lines.filter(([, v]) => v !== undefined).map(([k, v]) => [`${k}:`, String(v)]));
}

/** A wait or run time: milliseconds below a second (the percentiles of a quick queue), else as the worker prints them. */
const duration = (ms: number) => (ms < 1000 ? `${Math.round(ms)}ms` : formatDuration(ms));

function printStats(stats: QueueStats): void {
  printTable([
    ["STATUS", "TASKS"],
    ...Object.entries(stats.byStatus).map(([status, n]) => [status, String(n)]),
  ]);
  console.log();
  printTable([
    ["claimable now", String(stats.queueDepth)],
    ["delayed", String(stats.delayed)],
    ["active leases", String(stats.activeLeases)],
    ["dead letters", String(stats.deadLetters)],
    ["oldest pending", stats.oldestPendingAgeMs === null ? "-" : duration(stats.oldestPendingAgeMs)],
    [
      "completions",
      `${stats.completionsThisMinute} this minute, ${Number(stats.completionsPerMinute.toFixed(1))} per minute over the last 5`,
    ],
  ]);
  console.log();
  printTable([
    ["TIME", "SAMPLES", "P50", "P95", "P99"],
    ...(
      [
        ["wait (created → claimed)", stats.waitTime],
        ["run (claimed → completed)", stats.runTime],
      ] as const
    ).map(([name, p]) =>
      p.samples === 0
        ? [name, "0", "-", "-", "-"]
        : [name, String(p.samples), duration(p.p50Ms), duration(p.p95Ms), duration(p.p99Ms)],
    ),
  ]);
  console.log();
  if (stats.workers.length === 0) console.log("no worker holds a task");
  else
    printTable([
      ["WORKER", "ACTIVE TASKS"],
      ...stats.workers.map((w) => [w.workerId, String(w.activeTasks)]),
    ]);
}

export function registerTaskCommands(program: Command): void {
  const task = program.command("task").description("create, inspect and manage tasks on a running server");
  const withCommon = (cmd: Command) =>
    cmd
      .option(...URL_OPTION)
      .option("--token <token>", "bearer token (env CLAUDEBENCH_TOKEN)")
      .option("--json", "print JSON");

  withCommon(task.command("create <text>").description("add a task to the queue"))
    .option("-p, --priority <priority>", PRIORITIES, priorityArg, 50)
    .option("-c, --channel <channel>", "grouping label")
    .option("--requires <capabilities>", "capabilities a worker must have to claim it (comma list)", listArg)
    .option("--max-attempts <n>", "tries before dead-lettering (1..100)", wholeNumber(1, 100), 3)
    .option("--metadata <json>", "JSON object of metadata", metadataArg)
    .action(
      action(
        async (
          text: string,
          opts: Common & {
            priority: number | string;
            channel?: string;
            requires?: string[];
            maxAttempts: number;
            metadata?: Record<string, unknown>;
          },
        ) => {
          const created = await clientFrom(opts).createTask({
            text,
            priority: opts.priority,
            maxAttempts: opts.maxAttempts,
            ...(opts.channel ? { channel: opts.channel } : {}),
            ...(opts.requires?.length ? { requires: opts.requires } : {}),
            ...(opts.metadata ? { metadata: opts.metadata } : {}),
          });
          if (opts.json) show(created);
          else console.log(`created ${created.id} (priority ${created.priority})`);
        },
      ),
    );

  withCommon(task.command("list").description("list tasks, newest first"))
    .option("-s, --status <status>", "pending|in_progress|completed|failed|cancelled")
    .option("-c, --channel <channel>")
    .option("--assigned-to <worker>")
    .option("-n, --limit <n>", "how many (1..1000)", wholeNumber(1, 1000), 20)
    .action(
      action(
        async (opts: Common & { status?: string; channel?: string; assignedTo?: string; limit: number }) => {
          const listed = await clientFrom(opts).call<{ tasks: Task[]; totalCount: number }>("task.list", {
            limit: opts.limit,
            ...(opts.status ? { status: opts.status } : {}),
            ...(opts.channel ? { channel: opts.channel } : {}),
            ...(opts.assignedTo ? { assignedTo: opts.assignedTo } : {}),
          });
          if (opts.json) return show(listed);
          printTable([
            ["ID", "STATUS", "PRIO", "ASSIGNED", "ATTEMPTS", "TEXT"],
            ...listed.tasks.map((t) => [
              t.id,
              t.status,
              String(t.priority),
              t.assignedTo ?? "-",
              `${t.attempts}/${t.maxAttempts}`,
              t.text.slice(0, 60),
            ]),
          ]);
          console.log(`${listed.tasks.length} of ${listed.totalCount}`);
        },
      ),
    );

  withCommon(task.command("get <id>").description("show one task")).action(
    action(async (id: string, opts: Common) => {
      const found = await clientFrom(opts).getTask(id);
      if (opts.json) show(found);
      else printTask(found);
    }),
  );

  withCommon(
    task.command("stats").description("queue figures: tasks per status, waits, completions, workers"),
  ).action(
    action(async (opts: Common) => {
      const stats = await clientFrom(opts).call<QueueStats>("task.stats");
      if (opts.json) show(stats);
      else printStats(stats);
    }),
  );

  withCommon(
    task
      .command("set-priority")
      .description("change a task's priority (a waiting task moves to its new place in the queue)")
      .argument("<id>", "the task")
      .argument("<priority>", PRIORITIES, priorityArg),
  ).action(
    action(async (id: string, priority: number | string, opts: Common) => {
      const updated = await clientFrom(opts).call<Task>("task.update", { id, updates: { priority } });
      if (opts.json) show(updated);
      else console.log(`${updated.id}: priority ${updated.priority}`);
    }),
  );

  withCommon(
    task
      .command("release <id>")
      .description(
        "put a task in progress back in the queue, at its place, without counting the attempt (from whoever holds it, or only from --worker)",
      ),
  )
    .option("--worker <workerId>", "release it only if this worker holds it (as that worker: task.release)")
    .action(
      action(async (id: string, opts: Common & { worker?: string }) => {
        // A worker gives back what it holds (task.release); an operator takes it from whoever holds it.
        const [method, params] = opts.worker
          ? ["task.release", { id, workerId: opts.worker }]
          : ["task.unassign", { taskId: id }];
        const released = await clientFrom(opts).call<{ previousAssignment: string | null; task: Task }>(
          method,
          params,
        );
        if (opts.json) show(released);
        else
          console.log(
            `released ${released.task.id}${released.previousAssignment ? ` from ${released.previousAssignment}` : ""}: ${released.task.status} again`,
          );
      }),
    );

  withCommon(task.command("cancel <id>").description("cancel a pending or running task"))
    .option("--reason <text>")
    .action(
      action(async (id: string, opts: Common & { reason?: string }) => {
        const cancelled = await clientFrom(opts).call<Task>("task.cancel", { id, reason: opts.reason });
        if (opts.json) show(cancelled);
        else console.log(`cancelled ${cancelled.id}`);
      }),
    );

  withCommon(
    task.command("retry <id>").description("put a failed or cancelled task back in the queue"),
  ).action(
    action(async (id: string, opts: Common) => {
      const retried = await clientFrom(opts).call<Task>("task.retry", { id });
      if (opts.json) show(retried);
      else console.log(`requeued ${retried.id}`);
    }),
  );
}
