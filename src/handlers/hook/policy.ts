import { existsSync } from "node:fs";
import { z } from "zod";
import { BUILTIN_RULES, builtinActive } from "../../domain/policy/catalog.js";
import { HOOK_POINTS } from "../../extensions/hook-links/link.js";
import { defineHandler } from "../../services.js";

const rule = z.object({
  id: z.string(),
  hook: z.enum(["pre_tool", "user_prompt"]),
  decisions: z.array(z.string()),
  matches: z.string(),
  source: z.enum(["builtin", "project", "server"]),
  active: z.boolean(),
  reason: z.string().optional(),
});

const link = z.object({
  name: z.string(),
  hook: z.enum(["pre_tool", "post_tool", "user_prompt"]),
  priority: z.number(),
  tools: z.array(z.string()).nullable(),
  timeoutMs: z.number(),
});

/**
 * Read-only: the rules a project's tool calls and prompts are judged by, and the hook chain
 * links that run them. Nothing is evaluated; the policy file is read as a hook call would.
 */
export const hookPolicy = defineHandler({
  name: "hook.policy",
  description:
    "The pre-tool and prompt policy in force for a project (cwd; the server's own policy without one): the built-in rules (active unless the policy disables them), the rules of its .claudebench/policy.json, and the hook chain links in the order they run.",
  input: z.object({ cwd: z.string().max(4096).optional() }),
  output: z.object({
    cwd: z.string().nullable(),
    /** The policy file in force (the project's, else the server's POLICY_FILE); null: none exists, the defaults. */
    file: z.string().nullable(),
    /** Why the file is not in force (its last good version is, or the defaults). */
    error: z.string().nullable(),
    protectedBranches: z.array(z.string()),
    sudo: z.enum(["strip", "keep"]),
    rules: z.array(rule),
    links: z.array(link),
  }),
  expose: { mcp: { annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false } } },
  handle: async ({ cwd }, ctx) => {
    const source = ctx.policies.for(cwd);
    const policy = source.current();
    const own = cwd?.startsWith("/") && source.path === `${cwd.replace(/\/+$/, "")}/.claudebench/policy.json`;
    const from: "project" | "server" = own ? "project" : "server";
    return {
      cwd: cwd ?? null,
      file: source.path && existsSync(source.path) ? source.path : null,
      error: source.error,
      protectedBranches: policy.protectedBranches,
      sudo: policy.sudo,
      rules: [
        ...BUILTIN_RULES.map((r) => ({
          ...r,
          source: "builtin" as const,
          active: builtinActive(r.id, policy),
        })),
        ...policy.rules.map((r) => ({
          id: r.id,
          hook: "pre_tool" as const,
          decisions: [r.decision],
          matches: [`tool ${r.tool}`, r.command && `command ${r.command}`, r.path && `path ${r.path}`]
            .filter(Boolean)
            .join(", "),
          source: from,
          active: true,
          reason: r.reason,
        })),
        ...policy.prompt.map((r) => ({
          id: r.id,
          hook: "user_prompt" as const,
          decisions: [r.decision],
          matches: `prompt /${r.match}/i`,
          source: from,
          active: true,
          reason: r.reason,
        })),
      ],
      links: HOOK_POINTS.flatMap((point) =>
        ctx.hookChains.chain(point).map((l) => ({
          name: l.name,
          hook: l.hook,
          priority: l.priority,
          tools: l.match?.tools ? [...l.match.tools] : null,
          timeoutMs: l.timeoutMs,
        })),
      ),
    };
  },
});
