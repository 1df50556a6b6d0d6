/**
 * A first plugin handler: `hello.greet`, served on JSON-RPC, HTTP (`POST /hello/greet`),
 * MCP (tool `hello__greet`) and the Redis request stream, like the built-ins.
 * Copy it to .claudebench/plugins/ and run `claudebench serve` (add --watch to edit it live).
 */
import { defineHandler, z } from "claudebench";

export const helloGreet = defineHandler({
  name: "hello.greet",
  description: "Greets someone by name. Use it to check that plugins are loaded.",
  input: z.object({
    name: z.string().min(1).max(100).describe("Who to greet"),
  }),
  output: z.object({
    greeting: z.string(),
    servedBy: z.string().describe("The server instance that answered"),
  }),
  // At most 5 greetings per caller per second; over that the caller gets RATE_LIMITED.
  policy: { rateLimit: { limit: 5, windowMs: 1000 } },
  expose: { mcp: { annotations: { readOnlyHint: true, idempotentHint: true } } },
  handle: async ({ name }, ctx) => ({ greeting: `Hello, ${name}!`, servedBy: ctx.instanceId }),
});
