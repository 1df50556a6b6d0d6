import {
  type BuiltinSettings,
  COMMAND_RULES,
  type Finding,
  globMatch,
  insideProject,
  isSecretPath,
  isSystemPath,
} from "./builtin-rules.js";
import type { Policy, UserRule } from "./policy-file.js";
import { analyzeShell, type SimpleCommand } from "./shell.js";

/**
 * The pre-tool policy engine: every finding of every rule is collected, then the strongest
 * wins — deny > ask > modify > warn > allow — and warnings travel along as context.
 */

export type Decision = "deny" | "ask" | "modify" | "warn" | "allow";

export interface PolicyDecision {
  decision: Decision;
  reason: string;
  /** The rule that decided (the strongest finding's). */
  rule: string | null;
  findings: Finding[];
  /** For `modify`: the whole replacement tool input. */
  updatedInput?: Record<string, unknown>;
  /** Warnings for the model (`warn` findings, and a modification's explanation). */
  additionalContext?: string;
}

export interface ToolCall {
  tool: string;
  input: Record<string, unknown>;
  /** The session's working directory (the project). */
  cwd?: string;
}

const RANK: Record<Decision, number> = { allow: 0, warn: 1, modify: 2, ask: 3, deny: 4 };

const WRITE_TOOLS: Record<string, string[]> = {
  Write: ["file_path"],
  Edit: ["file_path"],
  MultiEdit: ["file_path"],
  NotebookEdit: ["notebook_path"],
};
const READ_TOOLS: Record<string, string[]> = { Read: ["file_path"], Grep: ["path"], Glob: ["path"] };
const WRITE_REDIRECT = /^(\d*|&)(>|>>|>\||&>|&>>)$/;
const READ_COMMANDS = new Set([
  "cat",
  "less",
  "more",
  "head",
  "tail",
  "grep",
  "strings",
  "xxd",
  "base64",
  "cp",
  "scp",
  "rsync",
  "curl",
]);

function toolMatches(pattern: string, tool: string): boolean {
  return pattern.split("|").some((p) => globMatch(p.trim(), tool));
}

/** Files the call would write and read. */
function touchedPaths(call: ToolCall, commands: SimpleCommand[]): { writes: string[]; reads: string[] } {
  const writes: string[] = [];
  const reads: string[] = [];
  for (const field of WRITE_TOOLS[call.tool] ?? []) {
    if (typeof call.input[field] === "string") writes.push(call.input[field] as string);
  }
  for (const field of READ_TOOLS[call.tool] ?? []) {
    if (typeof call.input[field] === "string") reads.push(call.input[field] as string);
  }
  for (const c of commands) {
    for (const r of c.redirects) {
      if (WRITE_REDIRECT.test(r.op)) writes.push(r.target);
      else if (r.op === "<") reads.push(r.target);
    }
    const name = (c.argv[0] ?? "").split("/").pop() ?? "";
    const operands = c.argv.slice(1).filter((a) => !a.startsWith("-"));
    if (name === "tee") writes.push(...operands);
    if ((name === "cp" || name === "mv" || name === "install" || name === "ln") && operands.length > 1) {
      writes.push(operands[operands.length - 1] as string);
    }
    if (READ_COMMANDS.has(name)) reads.push(...operands.map((o) => o.replace(/^@/, "")));
    if (name === "dd") {
      for (const a of c.argv) if (a.startsWith("of=")) writes.push(a.slice(3));
    }
  }
  return { writes, reads };
}

function fileFindings(paths: { writes: string[]; reads: string[] }, cwd: string | undefined): Finding[] {
  const findings: Finding[] = [];
  for (const path of paths.writes) {
    if (isSystemPath(path, cwd)) {
      findings.push({
        rule: "write-system-path",
        decision: "deny",
        reason: `writes to the system path ${path}`,
      });
    } else if (isSecretPath(path)) {
      findings.push({
        rule: "write-secret",
        decision: "deny",
        reason: `writes to ${path}, which holds secrets`,
      });
    } else if (cwd && path.startsWith("/") && !insideProject(path, cwd) && !path.startsWith("/tmp/")) {
      findings.push({
        rule: "write-outside-project",
        decision: "ask",
        reason: `writes to ${path}, outside the project ${cwd}`,
      });
    }
  }
  for (const path of paths.reads) {
    if (isSecretPath(path)) {
      findings.push({ rule: "read-secret", decision: "ask", reason: `reads ${path}, which holds secrets` });
    }
  }
  return findings;
}

function shellFindings(analysis: ReturnType<typeof analyzeShell>, settings: BuiltinSettings): Finding[] {
  const findings: Finding[] = [];
  if (analysis.forkBomb)
    findings.push({ rule: "fork-bomb", decision: "deny", reason: "a fork bomb exhausts the machine" });
  for (const command of analysis.commands) {
    for (const rule of COMMAND_RULES) {
      const hit = rule.check(command, settings);
      if (hit) findings.push({ rule: rule.id, ...hit });
    }
  }
  if (analysis.opaque.length > 0) {
    const downloads = analysis.commands.some((c) =>
      ["curl", "wget", "fetch"].includes((c.argv[0] ?? "").split("/").pop() ?? ""),
    );
    findings.push(
      downloads
        ? { rule: "download-and-run", decision: "deny", reason: "runs code produced by a download" }
        : {
            rule: "opaque-command",
            decision: "ask",
            reason: `cannot be checked before it runs: ${analysis.opaque[0]?.slice(0, 120)}`,
          },
    );
  }
  return findings;
}

/** `sudo` dropped from every command that starts with it. */
function withoutSudo(command: string): string {
  return command.replace(/(^|[;&|(\n]\s*|\$\(\s*)sudo(\s+-[A-Za-z]+(\s+[A-Za-z0-9_-]+)?)*\s+/g, "$1");
}

function userFindings(
  rules: UserRule[],
  call: ToolCall,
  commands: SimpleCommand[],
  paths: string[],
): Finding[] {
  const findings: Finding[] = [];
  for (const rule of rules) {
    if (!toolMatches(rule.tool, call.tool)) continue;
    if (rule.command !== undefined) {
      const pattern = rule.command;
      if (!commands.some((c) => globMatch(pattern, c.argv.join(" ")))) continue;
    }
    if (rule.path !== undefined) {
      const pattern = rule.path;
      if (!paths.some((p) => globMatch(pattern, p))) continue;
    }
    findings.push({ rule: rule.id, decision: rule.decision as Finding["decision"], reason: rule.reason });
  }
  return findings;
}

export function evaluate(call: ToolCall, policy: Policy): PolicyDecision {
  const settings: BuiltinSettings = { protectedBranches: policy.protectedBranches, cwd: call.cwd };
  const command = call.tool === "Bash" && typeof call.input.command === "string" ? call.input.command : null;
  const analysis = command === null ? null : analyzeShell(command);
  const commands = analysis?.commands ?? [];
  const paths = touchedPaths(call, commands);

  const builtin = [
    ...(analysis ? shellFindings(analysis, settings) : []),
    ...fileFindings(paths, call.cwd),
  ].filter((f) => !policy.disable.includes(f.rule));
  const user = userFindings(policy.rules, call, commands, [...paths.writes, ...paths.reads]);
  // A user "allow" rule waives the built-in asks and warnings it matches (never a deny).
  const waived = user.some((f) => (f.decision as string) === "allow");
  const findings = [
    ...builtin.filter((f) => !(waived && f.decision !== "deny")),
    ...user.filter((f) => (f.decision as string) !== "allow"),
  ];

  let strongest: Finding | null = null;
  for (const f of findings) if (!strongest || RANK[f.decision] > RANK[strongest.decision]) strongest = f;
  const warnings = findings.filter((f) => f.decision === "warn").map((f) => f.reason);

  if (strongest && RANK[strongest.decision] >= RANK.ask) {
    return { decision: strongest.decision, reason: strongest.reason, rule: strongest.rule, findings };
  }
  if (command !== null && policy.sudo === "strip" && commands.some((c) => c.wrappers.includes("sudo"))) {
    const rewritten = withoutSudo(command);
    if (rewritten !== command) {
      const reason = "sudo removed: agents run without root";
      return {
        decision: "modify",
        reason,
        rule: "strip-sudo",
        findings: [...findings, { rule: "strip-sudo", decision: "warn", reason }],
        updatedInput: { ...call.input, command: rewritten },
        additionalContext: [reason, ...warnings].join("\n"),
      };
    }
  }
  if (strongest) {
    return {
      decision: "warn",
      reason: warnings.join("; "),
      rule: strongest.rule,
      findings,
      additionalContext: warnings.join("\n"),
    };
  }
  return { decision: "allow", reason: "no rule matched", rule: null, findings };
}
