/**
 * A hook link: Claude Code sessions may not publish packages. Any Bash command running
 * `npm publish` (or `pnpm`/`yarn` publish) is denied before it runs; the built-in policy
 * engine and every other link still judge the rest.
 * Copy it to .claudebench/plugins/ (docs/extending.md, "Write your first hook link").
 */
import { defineHookLink } from "claudebench";

export const noPublish = defineHookLink({
  name: "example.no_publish",
  hook: "pre_tool",
  priority: 10, // before the built-in policy (0)
  match: { tools: ["Bash"] },
  run: ({ input }) => {
    const command = String(input.command ?? "");
    if (/\b(npm|pnpm|yarn)\s+publish\b/.test(command)) {
      return {
        decision: "deny",
        rule: "no-publish",
        reason: "Publishing is done by the release pipeline, not by a session.",
      };
    }
    return undefined; // nothing to say: the next link decides
  },
});
