import { z } from "zod";
import { defineHandler } from "../../core/handler.js";
import { projectOf, touchSession } from "../../domain/hooks/sessions.js";
import { todoWriteEvent } from "../../domain/hooks/todo-event.js";
import { syncTodos } from "../../domain/hooks/todos.js";
import { hookContext, todo, todoOutcome } from "./schemas.js";

export const hookTodoWrite = defineHandler({
  name: "hook.todo_write",
  description:
    "Mirrors a session's TodoWrite list as tasks: new todos become tasks, in_progress claims them for the session, completed completes them, removed todos are cancelled. Other sessions see them in task.list.",
  input: z.object({
    todos: z.array(todo).max(500),
    previousTodos: z
      .array(todo)
      .optional()
      .describe("Ignored: the server keeps each session's previous list"),
    cwd: z.string().max(4096).optional(),
    ...hookContext,
  }),
  output: z.object({ processed: z.boolean(), todos: z.array(todoOutcome), cancelled: z.array(z.string()) }),
  expose: { mcp: false },
  handle: async (input, ctx) => {
    const sessionId = input.sessionId ?? ctx.meta.sessionId ?? "default";
    const holder = await touchSession(ctx.instances, { sessionId, cwd: input.cwd });
    const result = await syncTodos(
      {
        redis: ctx.redis,
        q: ctx.keys.queue,
        tasks: ctx.tasks,
        holder,
        sessionId,
        channel: input.cwd ? projectOf(input.cwd) : `session-${holder.slice(3, 60)}`,
      },
      input.todos,
    );
    const who = { sessionId, instanceId: holder, cwd: input.cwd };
    await ctx.emit(
      "hook.todo_write.executed",
      await todoWriteEvent(ctx.redis, ctx.keys, who, input.todos, result),
    );
    return { processed: true, ...result };
  },
});
