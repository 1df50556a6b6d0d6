import type { Policy } from "./policy-file.js";

/**
 * UserPromptSubmit: a prompt that carries a secret or asks for something destructive gets a
 * warning (as context for the model); a project's prompt rules can block it outright.
 */

interface PromptVerdict {
  decision: "block" | "warn" | "allow";
  reasons: string[];
  rule: string | null;
}

const SECRETS: [RegExp, string][] = [
  [/AKIA[0-9A-Z]{16}/, "an AWS access key"],
  [/-----BEGIN (RSA |EC |DSA |OPENSSH |PGP )?PRIVATE KEY-----/, "a private key"],
  [/\bgh[pousr]_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{40,}/, "a GitHub token"],
  [/\bsk-(ant-)?[A-Za-z0-9_-]{20,}/, "an API secret key"],
  [/\bxox[abprs]-[A-Za-z0-9-]{10,}/, "a Slack token"],
  [/\b(password|passwd|secret|api[_-]?key|token)\s*[:=]\s*\S{6,}/i, "a password or key"],
];

const DESTRUCTIVE: [RegExp, string][] = [
  [/\brm\s+-[a-z]*r[a-z]*f?\s+\/(\s|$)|\brm\s+-rf\b/i, "recursive deletion"],
  [/\bdrop\s+(database|table|schema)\b|\btruncate\s+table\b/i, "dropping data"],
  [/\b(delete|wipe|erase|destroy)\s+(all|every(thing)?|the\s+(whole|entire))\b/i, "deleting everything"],
  [/\bforce[- ]?push\b|\bpush\s+--force\b/i, "a force-push"],
  [/\b(format|wipe)\s+(the\s+)?(disk|drive|partition)\b/i, "wiping a disk"],
];

export function analyzePrompt(prompt: string, policy: Policy): PromptVerdict {
  for (const rule of policy.prompt) {
    if (new RegExp(rule.match, "i").test(prompt)) {
      if (rule.decision === "block") return { decision: "block", reasons: [rule.reason], rule: rule.id };
    }
  }
  const reasons: string[] = [];
  let rule: string | null = null;
  for (const [pattern, what] of SECRETS) {
    if (pattern.test(prompt)) {
      reasons.push(
        `The prompt seems to contain ${what}: do not repeat it, write it to files or send it anywhere.`,
      );
      rule ??= "prompt-secret";
    }
  }
  for (const [pattern, what] of DESTRUCTIVE) {
    if (pattern.test(prompt)) {
      reasons.push(
        `The prompt asks for ${what}: confirm the exact scope with the user before doing anything irreversible.`,
      );
      rule ??= "prompt-destructive";
    }
  }
  for (const r of policy.prompt) {
    if (r.decision === "warn" && new RegExp(r.match, "i").test(prompt)) {
      reasons.push(r.reason);
      rule ??= r.id;
    }
  }
  return { decision: reasons.length ? "warn" : "allow", reasons, rule };
}
