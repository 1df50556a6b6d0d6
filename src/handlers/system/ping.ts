import { defineHandler } from "../../services.js";
import { emptyInput, pingOutput } from "./schemas.js";

export const systemPing = defineHandler({
  name: "system.ping",
  description:
    "Answers at once without touching Redis. Use it to check that the server is reachable and to measure transport overhead.",
  input: emptyInput,
  output: pingOutput,
  expose: { mcp: { annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false } } },
  handle: async (_input, ctx) => ({ pong: true as const, instanceId: ctx.instanceId, ts: Date.now() }),
});
