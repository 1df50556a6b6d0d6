import { inputJsonSchema, outputJsonSchema } from "../../core/json-schema.js";
import { domainOf, toHttpPath, toToolName } from "../../core/naming.js";
import { defineHandler } from "../../services.js";
import { discoverInput, discoverOutput } from "./schemas.js";

export const systemDiscover = defineHandler({
  name: "system.discover",
  description:
    "Lists the methods this server offers, with their input and output JSON Schemas, policy, the transports that serve them and where they come from (built in or a plugin file), and the plugin files that did not load. Pass domain (e.g. task) to narrow the list.",
  input: discoverInput,
  output: discoverOutput,
  expose: { mcp: { annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false } } },
  handle: async ({ domain }, ctx) => ({
    methods: ctx.registry
      .list()
      .filter((h) => domain === undefined || domainOf(h.name) === domain)
      .map((h) => ({
        name: h.name,
        description: h.description,
        inputSchema: inputJsonSchema(h),
        outputSchema: outputJsonSchema(h),
        metadata: {
          domain: domainOf(h.name),
          httpPath: h.expose.http ? toHttpPath(h.name) : null,
          mcpTool: h.expose.mcp ? toToolName(h.name) : null,
          transports: (["jsonrpc", "http", "mcp", "events"] as const).filter((t) => h.expose[t] !== false),
          policy: { ...h.policy },
          annotations: h.expose.mcp ? { ...h.expose.mcp.annotations } : null,
          source: ctx.registry.sourceOf(h.name) ?? "builtin",
        },
      })),
    plugins: ctx.plugins.report(),
  }),
});
