import type { Policy } from "./policy-file.js";

/**
 * What each built-in rule looks at and what it may decide, for people (the dashboard's Hooks
 * view, `hook.policy`). The rules themselves are code (builtin-rules.ts, engine.ts, the
 * prompt check in hooks/prompt.ts); this is their description, kept next to them (the
 * hook.policy integration test checks every COMMAND_RULES id is here).
 */

interface BuiltinRuleInfo {
  id: string;
  hook: "pre_tool" | "user_prompt";
  /** Every decision the rule can give. */
  decisions: string[];
  matches: string;
}

export const BUILTIN_RULES: readonly BuiltinRuleInfo[] = [
  {
    id: "rm-critical",
    hook: "pre_tool",
    decisions: ["deny", "ask"],
    matches:
      "rm -r (or rm --no-preserve-root) on /, a system or home directory or one holding the project, or a glob in one (/e*, ~/.*) (deny); rm -r on the whole project, on paths from xargs' or parallel's input, from a variable that cannot be resolved or after a cd to an unknown directory (ask)",
  },
  {
    id: "pipe-to-shell",
    hook: "pre_tool",
    decisions: ["deny"],
    matches: "piping into a shell or interpreter (curl … | sh, | python, > >(bash))",
  },
  {
    id: "disk-destroy",
    hook: "pre_tool",
    decisions: ["deny"],
    matches: "mkfs, fdisk, sfdisk, parted, wipefs, mkswap, shred on /dev, dd onto a block device",
  },
  {
    id: "chmod-chown-critical",
    hook: "pre_tool",
    decisions: ["deny", "warn"],
    matches: "chmod/chown/chgrp -R on a critical path (deny); chmod 777 (warn)",
  },
  {
    id: "git-force-push",
    hook: "pre_tool",
    decisions: ["deny", "ask"],
    matches: "git push --force / +ref / --delete: to a protected branch (deny), elsewhere (ask)",
  },
  {
    id: "system-power",
    hook: "pre_tool",
    decisions: ["deny"],
    matches: "shutdown, reboot, halt, poweroff, init N, systemctl poweroff|reboot|halt|kexec, kill -9 1",
  },
  {
    id: "git-destructive",
    hook: "pre_tool",
    decisions: ["ask", "warn"],
    matches: "git clean -fdx (ask); git reset --hard (warn)",
  },
  { id: "fork-bomb", hook: "pre_tool", decisions: ["deny"], matches: "a shell fork bomb" },
  {
    id: "download-and-run",
    hook: "pre_tool",
    decisions: ["deny"],
    matches:
      "running code a download produced: bash/source <(curl …), curl -o f … && sh f, $(curl …) as a command, eval of wget output, interpreter code evaluating what it fetches",
  },
  {
    id: "opaque-command",
    hook: "pre_tool",
    decisions: ["ask"],
    matches:
      "a command that cannot be checked before it runs: a program named by an unknown variable or $(…), eval or bash -c of one, interpreter code spliced in from $(…) or an unknown variable, an interpreter's shell-out built at run time, code another program prints run through <(…)",
  },
  {
    id: "delete-critical",
    hook: "pre_tool",
    decisions: ["deny", "ask"],
    matches:
      "rm, unlink, rmdir, shred -u, mv (its sources), rsync --delete (its destination) on /, a system or home directory or one holding the project (deny), or on a path from a variable that cannot be resolved or after a cd to an unknown directory (ask)",
  },
  {
    id: "write-system-path",
    hook: "pre_tool",
    decisions: ["deny"],
    matches:
      "writing (tool or redirect, tee, cp/mv/ln/install incl. -t, truncate, rsync, sed -i, perl -i, tar -C, dd) to a system path",
  },
  {
    id: "write-secret",
    hook: "pre_tool",
    decisions: ["deny"],
    matches: "writing to a file that holds secrets (.env, keys, credentials)",
  },
  {
    id: "write-outside-project",
    hook: "pre_tool",
    decisions: ["ask"],
    matches: "writing an absolute path outside the project (not /tmp)",
  },
  {
    id: "read-secret",
    hook: "pre_tool",
    decisions: ["ask"],
    matches: "reading a file that holds secrets",
  },
  {
    id: "strip-sudo",
    hook: "pre_tool",
    decisions: ["modify"],
    matches: "a command run with sudo: sudo is removed (policy sudo: strip)",
  },
  {
    id: "prompt-secret",
    hook: "user_prompt",
    decisions: ["warn"],
    matches: "a prompt carrying an API key, token, private key or password",
  },
  {
    id: "prompt-destructive",
    hook: "user_prompt",
    decisions: ["warn"],
    matches: "a prompt asking for recursive deletion, dropping data, a force-push, wiping a disk",
  },
];

/** Is this built-in rule in force under `policy`? */
export function builtinActive(id: string, policy: Policy): boolean {
  if (id === "strip-sudo") return policy.sudo === "strip";
  // `disable` names pre-tool rules only: the prompt check has no such switch (hooks/prompt.ts)
  return !policy.disable.includes(id) || id.startsWith("prompt-");
}
