/**
 * A subscription: when a task completes, leave a note for the master session of the task's
 * project (its channel), which Claude Code shows the master with its next prompt. Runs once
 * per completion across all server processes; `ctx.deliveryId` makes a redelivery harmless.
 * Copy it to .claudebench/plugins/ (docs/extending.md, "Write your first subscription").
 */
import { defineSubscription } from "claudebench";

interface CompletedTask {
  id: string;
  text: string;
  channel?: string;
  assignedTo?: string;
}

export const completionNotes = defineSubscription({
  name: "example-completion-notes",
  events: ["task.completed"],
  filter: (event) => typeof (event.payload.task as CompletedTask | undefined)?.channel === "string",
  async handle(event, ctx) {
    const task = event.payload.task as CompletedTask;
    await ctx.invoke("session.notify", {
      to: "master",
      project: task.channel,
      kind: "task-completed",
      text: `Task ${task.id} is done: ${task.text}`,
      dedupeKey: ctx.deliveryId,
    });
  },
});
