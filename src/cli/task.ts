import type { Command } from "commander";
import { ClaudeBenchClient } from "../client/http-client.js";
import { loadClientConfig } from "../config.js";
import type { Task } from "../domain/tasks/model.js";
import { action, printTable, URL_OPTION } from "./output.js";

/** `claudebench task create|list|get|stats|cancel|retry`: the task API from the terminal. */

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

function printTask(task: Task): void {
  const lines: [string, unknown][] = [
    ["id", task.id],
    ["status", task.status + (task.deadLettered ? " (dead letter)" : "")],
    ["priority", task.priority],
    ["text", task.text],
    ["channel", task.channel],
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

export function registerTaskCommands(program: Command): void {
  const task = program.command("task").description("create, inspect and manage tasks on a running server");
  const withCommon = (cmd: Command) =>
    cmd
      .option(...URL_OPTION)
      .option("--token <token>", "bearer token (env CLAUDEBENCH_TOKEN)")
      .option("--json", "print JSON");

  withCommon(task.command("create <text>").description("add a task to the queue"))
    .option("-p, --priority <priority>", "0..100 or low|medium|high|critical", "50")
    .option("-c, --channel <channel>", "grouping label")
    .option("--max-attempts <n>", "tries before dead-lettering", "3")
    .option("--metadata <json>", "JSON object of metadata")
    .action(
      action(async (text: string, opts: Common & Record<string, string>) => {
        const priority = /^\d+$/.test(opts.priority ?? "") ? Number(opts.priority) : opts.priority;
        const created = await clientFrom(opts).createTask({
          text,
          priority,
          maxAttempts: Number(opts.maxAttempts),
          ...(opts.channel ? { channel: opts.channel } : {}),
          ...(opts.metadata ? { metadata: JSON.parse(opts.metadata) } : {}),
        });
        if (opts.json) show(created);
        else console.log(`created ${created.id} (priority ${created.priority})`);
      }),
    );

  withCommon(task.command("list").description("list tasks, newest first"))
    .option("-s, --status <status>", "pending|in_progress|completed|failed|cancelled")
    .option("-c, --channel <channel>")
    .option("--assigned-to <worker>")
    .option("-n, --limit <n>", "how many", "20")
    .action(
      action(async (opts: Common & Record<string, string>) => {
        const listed = await clientFrom(opts).call<{ tasks: Task[]; totalCount: number }>("task.list", {
          limit: Number(opts.limit),
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
      }),
    );

  withCommon(task.command("get <id>").description("show one task")).action(
    action(async (id: string, opts: Common) => {
      const found = await clientFrom(opts).call<Task>("task.get", { id });
      if (opts.json) show(found);
      else printTask(found);
    }),
  );

  withCommon(task.command("stats").description("queue figures")).action(
    action(async (opts: Common) => {
      const stats = await clientFrom(opts).call<Record<string, unknown>>("task.stats");
      show(stats);
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
