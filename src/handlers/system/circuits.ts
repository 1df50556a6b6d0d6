import { z } from "zod";
import { defineHandler } from "../../services.js";

const circuit = z.object({
  method: z.string(),
  state: z.enum(["closed", "open", "half_open"]),
  /** When an open breaker starts letting probe calls through (epoch ms); 0 otherwise. */
  openUntil: z.number(),
});

export const systemCircuits = defineHandler({
  name: "system.circuits",
  description:
    "The circuit breaker of every method as this server process enforces it (closed, open, half_open). Breaker state is shared by all server processes through Redis.",
  input: z.object({ state: z.enum(["closed", "open", "half_open"]).optional() }),
  output: z.object({ circuits: z.array(circuit) }),
  expose: { mcp: { annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false } } },
  handle: async ({ state }, ctx) => ({
    circuits: Object.entries(ctx.circuits.states())
      .map(([method, s]) => ({ method, ...s }))
      .filter((c) => !state || c.state === state),
  }),
});
