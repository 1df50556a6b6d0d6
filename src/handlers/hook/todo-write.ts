import { z } from "zod";
import { projectOf, sessionDirectory, touchSession } from "../../domain/sessions/sessions.js";
import { summarizeTodos } from "../../domain/sessions/todos.js";
import { defineHandler } from "../../services.js";
import { hookContext, todo, todoOutcome } from "./schemas.js";

export const hookTodoWrite = defineHandler({
  name: "hook.todo_write",
  description:
    "Mirrors a session's TodoWrite list as tasks: new todos become tasks, in_progress claims them for the session, completed completes them, removed todos are cancelled. Other sessions see them in task.list. summary counts the list and what changed.",
  input: z.object({
    todos: z.array(todo).max(500),
    previousTodos: z
      .array(todo)
      .optional()
      .describe("Ignored: the server keeps each session's previous list"),
    cwd: z
      .string()
      .max(4096)
      .optional()
      .describe("The session's working directory (default: the one it registered with)"),
    ...hookContext,
  }),
  output: z.object({
    processed: z.boolean(),
    todos: z.array(todoOutcome),
    cancelled: z.array(z.string()),
    summary: z
      .object({
        total: z.number(),
        pending: z.number(),
        in_progress: z.number(),
        completed: z.number(),
        added: z.number(),
        removed: z.number(),
        statusChanged: z.number(),
        conflicts: z.number(),
      })
      .describe(
        "The list by status; todos added (tasks created), removed (tasks cancelled), whose task moved to their status (statusChanged), and left alone because another session holds their task (conflicts)",
      ),
  }),
  expose: { mcp: false },
  handle: async (input, ctx) => {
    const sessionId = input.sessionId ?? ctx.meta.sessionId ?? "default";
    const holder = await touchSession(ctx.instances, { sessionId, cwd: input.cwd });
    const cwd = input.cwd ?? (await sessionDirectory(ctx.instances, holder));
    const result = await ctx.sessions.syncTodos(
      {
        holder,
        sessionId,
        channel: cwd ? projectOf(cwd) : `session-${holder.slice(3, 60)}`,
      },
      input.todos,
    );
    const who = { sessionId, instanceId: holder, cwd };
    await ctx.emit("hook.todo_write.executed", await ctx.sessions.todoWriteEvent(who, input.todos, result));
    return {
      processed: true,
      todos: result.todos,
      cancelled: result.cancelled,
      summary: summarizeTodos(input.todos, result),
    };
  },
});
