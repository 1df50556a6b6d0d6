import {
  type BuiltinSettings,
  COMMAND_RULES,
  commandGlobRegex,
  type Finding,
  globRegex,
  insideProject,
  isCriticalPath,
  isHarmlessDevice,
  isSecretPath,
  isSystemPath,
  located,
  resolvePath,
} from "./builtin-rules.js";
import type { Policy, UserRule } from "./policy-file.js";
import { analyzeShell, isUnresolved, type SimpleCommand } from "./shell.js";
import { type Touched, type TouchedPaths, touchedPaths } from "./touched.js";
import { uncheckedCodeFindings } from "./unchecked-code.js";

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

interface ToolCall {
  tool: string;
  input: Record<string, unknown>;
  /** The session's working directory (the project). */
  cwd?: string;
}

const RANK: Record<Decision, number> = { allow: 0, warn: 1, modify: 2, ask: 3, deny: 4 };

/** Rule patterns compiled once: a policy has few, and they are tried on every call. */
const compiled = new Map<string, RegExp>();

/** A user rule's pattern: over a command `*` spans any text, over a tool name or a path see globRegex. */
function patternMatches(kind: "command" | "path" | "tool", pattern: string, value: string): boolean {
  const key = `${kind}:${pattern}`;
  let regex = compiled.get(key);
  if (!regex) {
    if (compiled.size >= 1000) compiled.clear(); // patterns of policy files long edited away
    regex = kind === "command" ? commandGlobRegex(pattern) : globRegex(pattern);
    compiled.set(key, regex);
  }
  return regex.test(value);
}

function toolMatches(pattern: string, tool: string): boolean {
  return pattern.split("|").some((p) => patternMatches("tool", p.trim(), tool));
}

/** A finding and what it is about: a simple command, or a file (what a user allow rule can waive). */
interface Sourced {
  finding: Finding;
  command?: SimpleCommand;
  path?: string;
}

/** What writing `path` would do wrong, if anything. */
function writeFinding(path: string, cwd: string | undefined): Finding | null {
  // judged resolved: `../../etc/passwd` and `/tmp/../etc/passwd` are /etc/passwd
  const p = resolvePath(path, cwd);
  return isSystemPath(p, cwd)
    ? { rule: "write-system-path", decision: "deny", reason: `writes to the system path ${path}` }
    : isSecretPath(p)
      ? { rule: "write-secret", decision: "deny", reason: `writes to ${path}, which holds secrets` }
      : cwd &&
          (p.startsWith("/") || p.startsWith("~")) &&
          !insideProject(p, cwd) &&
          !p.startsWith("/tmp/") &&
          !isHarmlessDevice(p)
        ? {
            rule: "write-outside-project",
            decision: "ask",
            reason: `writes to ${path}, outside the project ${cwd}`,
          }
        : null;
}

/** What deleting `path` would do wrong: everything writing it would, and more. */
function deleteFinding(path: string, cwd: string | undefined): Finding | null {
  const p = resolvePath(path, cwd);
  if (isUnresolved(p)) {
    return {
      rule: "delete-critical",
      decision: "ask",
      reason: `deletes ${path}, named by a variable that cannot be resolved before it runs`,
    };
  }
  if (isCriticalPath(p, cwd)) {
    return {
      rule: "delete-critical",
      decision: "deny",
      reason: `removes ${path}: the system, a home directory or one holding the project`,
    };
  }
  return writeFinding(path, cwd);
}

function fileFindings(paths: TouchedPaths, cwd: string | undefined): Sourced[] {
  const findings: Sourced[] = [];
  const judge = (touched: Touched[], finding: (path: string, cwd: string | undefined) => Finding | null) => {
    for (const t of touched) {
      const f = finding(located(t.path, t.command, cwd), cwd);
      if (f) findings.push({ finding: f, ...t });
    }
  };
  // a deletion first: it says more than the write that often comes with it (shred -u, rsync --delete)
  judge(paths.deletes, deleteFinding);
  judge(paths.writes, writeFinding);
  for (const touched of paths.reads) {
    if (isSecretPath(resolvePath(located(touched.path, touched.command, cwd), cwd))) {
      findings.push({
        finding: {
          rule: "read-secret",
          decision: "ask",
          reason: `reads ${touched.path}, which holds secrets`,
        },
        ...touched,
      });
    }
  }
  return findings;
}

function shellFindings(analysis: ReturnType<typeof analyzeShell>, settings: BuiltinSettings): Sourced[] {
  const findings: Sourced[] = [];
  const push = (finding: Finding) => findings.push({ finding });
  if (analysis.forkBomb)
    push({ rule: "fork-bomb", decision: "deny", reason: "a fork bomb exhausts the machine" });
  for (const command of analysis.commands) {
    for (const rule of COMMAND_RULES) {
      const hit = rule.check(command, settings);
      if (hit) findings.push({ finding: { rule: rule.id, ...hit }, command });
    }
  }
  findings.push(...uncheckedCodeFindings(analysis, settings.cwd));
  return findings;
}

/**
 * `sudo` dropped from every command that starts with it, with its options — and the argument of
 * those that take one (`-u user`, `--user user`), never the program after a plain flag (`-E`).
 */
const SUDO =
  /(^|[;&|(\n]\s*|\$\(\s*)sudo(?:\s+(?:-[A-Za-z]*[ugpCDhrtTU]\s+[^\s;&|]+|--(?:user|group|prompt|chdir|host|role|type|other-user|close-from|command-timeout)\s+[^\s;&|]+|--?[A-Za-z][\w-]*(?:=\S*)?|--))*\s+/g;

function withoutSudo(command: string): string {
  return command.replace(SUDO, "$1");
}

/** A user rule that matched, with the commands and paths it matched (null: it has no such pattern). */
interface UserMatch {
  finding: { rule: string; decision: UserRule["decision"]; reason: string };
  commands: SimpleCommand[] | null;
  paths: string[] | null;
}

function userFindings(
  rules: UserRule[],
  call: ToolCall,
  commands: SimpleCommand[],
  paths: string[],
): UserMatch[] {
  const matches: UserMatch[] = [];
  for (const rule of rules) {
    if (!toolMatches(rule.tool, call.tool)) continue;
    const pattern = { command: rule.command, path: rule.path };
    const matchedCommands =
      pattern.command === undefined
        ? null
        : commands.filter((c) => patternMatches("command", pattern.command as string, c.argv.join(" ")));
    if (matchedCommands?.length === 0) continue;
    const matchedPaths =
      pattern.path === undefined
        ? null
        : paths.filter((p) => patternMatches("path", pattern.path as string, p));
    if (matchedPaths?.length === 0) continue;
    matches.push({
      finding: { rule: rule.id, decision: rule.decision, reason: rule.reason },
      commands: matchedCommands,
      paths: matchedPaths,
    });
  }
  return matches;
}

/**
 * Does a user allow rule waive this built-in finding? A rule with only a tool pattern waives
 * everything about the call; one with a command or path pattern only the findings about the
 * commands or files it matched. Never a deny.
 */
function waives(allow: UserMatch, s: Sourced): boolean {
  if (s.finding.decision === "deny") return false;
  if (allow.commands === null && allow.paths === null) return true;
  if (s.command && allow.commands?.includes(s.command)) return true;
  return s.path !== undefined && (allow.paths?.includes(s.path) ?? false);
}

export function evaluate(call: ToolCall, policy: Policy): PolicyDecision {
  const settings: BuiltinSettings = { protectedBranches: policy.protectedBranches, cwd: call.cwd };
  const command = call.tool === "Bash" && typeof call.input.command === "string" ? call.input.command : null;
  const analysis = command === null ? null : analyzeShell(command);
  const commands = analysis?.commands ?? [];
  const paths = touchedPaths(call.tool, call.input, commands);

  const builtin = [
    ...(analysis ? shellFindings(analysis, settings) : []),
    ...fileFindings(paths, call.cwd),
  ].filter((s) => !policy.disable.includes(s.finding.rule));
  const user = userFindings(
    policy.rules,
    call,
    commands,
    [...paths.writes, ...paths.reads, ...paths.deletes].map((t) => t.path),
  );
  // A user "allow" rule waives the built-in asks and warnings it matches (never a deny).
  const allows = user.filter((m) => m.finding.decision === "allow");
  const findings: Finding[] = [
    ...builtin.filter((s) => !allows.some((a) => waives(a, s))).map((s) => s.finding),
    ...user.flatMap((m) => (m.finding.decision === "allow" ? [] : [m.finding as Finding])),
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
