import type { SimpleCommand } from "./shell.js";

/**
 * The built-in pre-tool rules: what no coding agent should do unasked. Each one looks at one
 * simple command (after the shell analysis) or at one file path the tool would write or read.
 * A project can disable any of them by id and add its own (see policy-file.ts).
 */

export type Verdict = "deny" | "ask" | "warn";

export interface Finding {
  rule: string;
  decision: Verdict;
  reason: string;
}

export interface CommandRule {
  id: string;
  check(command: SimpleCommand, settings: BuiltinSettings): Omit<Finding, "rule"> | null;
}

export interface BuiltinSettings {
  protectedBranches: string[];
  /** The session's project directory: paths inside it are the project's own. */
  cwd?: string;
}

/** Is `path` (absolute, or relative to cwd) inside the project directory? */
export function insideProject(path: string, cwd: string | undefined): boolean {
  if (!cwd || cwd === "/") return false;
  const root = cwd.replace(/\/+$/, "");
  if (!path.startsWith("/") && !path.startsWith("~") && !path.startsWith("$"))
    return !path.split("/").includes("..");
  return path === root || path.startsWith(`${root}/`);
}

const base = (p: string) => p.slice(p.lastIndexOf("/") + 1);
const program = (c: SimpleCommand) => base(c.argv[0] ?? "");
const args = (c: SimpleCommand) => c.argv.slice(1);

/** Short flags may be bundled: `-rf`, `-fr`, `-Rf`. */
function hasFlag(c: SimpleCommand, short: string[], long: string[]): boolean {
  return args(c).some(
    (a) =>
      long.includes(a) ||
      (a.startsWith("-") && !a.startsWith("--") && short.some((s) => a.slice(1).includes(s))),
  );
}

const SYSTEM_DIRS = [
  "/bin",
  "/boot",
  "/dev",
  "/etc",
  "/lib",
  "/lib32",
  "/lib64",
  "/opt",
  "/proc",
  "/root",
  "/sbin",
  "/sys",
  "/usr",
  "/var",
  "/System",
  "/Library",
  "/Applications",
  "/private",
];

/** `/`, `/*`, `~`, `$HOME`, a system directory or anything in one (outside the project). */
export function isCriticalPath(path: string, cwd?: string): boolean {
  const p = path.replace(/\/+$/, "") || "/";
  if (insideProject(p, cwd) && p !== cwd) return false;
  if (
    [
      "/",
      "/*",
      "/.",
      "/..",
      "~",
      "~/*",
      "$HOME",
      "${HOME}",
      "$HOME/*",
      "/home",
      "/Users",
      "/home/*",
      "/Users/*",
    ].includes(p)
  ) {
    return true;
  }
  return SYSTEM_DIRS.some((d) => p === d || p === `${d}/*` || p.startsWith(`${d}/`));
}

const WIDE_TARGETS = new Set(["*", ".", "..", "./*", "../*", ".*"]);

export const COMMAND_RULES: CommandRule[] = [
  {
    id: "rm-critical",
    check: (c, settings) => {
      if (program(c) !== "rm") return null;
      const targets = args(c).filter((a) => !a.startsWith("-"));
      if (args(c).includes("--no-preserve-root"))
        return { decision: "deny", reason: "rm --no-preserve-root" };
      const recursive = hasFlag(c, ["r", "R"], ["--recursive"]);
      const critical = targets.find((t) => isCriticalPath(t, settings.cwd));
      if (critical && (recursive || critical === "/")) {
        return {
          decision: "deny",
          reason: `rm ${recursive ? "-r " : ""}on ${critical}: deletes the system or home directory`,
        };
      }
      const wide = targets.find((t) => WIDE_TARGETS.has(t));
      if (recursive && wide)
        return { decision: "ask", reason: `rm -r ${wide} deletes everything in the current directory` };
      return null;
    },
  },
  {
    id: "pipe-to-shell",
    check: (c) => {
      const p = program(c);
      const interpreter = [
        "sh",
        "bash",
        "zsh",
        "dash",
        "ksh",
        "fish",
        "python",
        "python3",
        "perl",
        "ruby",
        "node",
      ].includes(p);
      if (c.pipedInput && interpreter && args(c).every((a) => a.startsWith("-"))) {
        return { decision: "deny", reason: `piping into ${p} runs code nobody reviewed` };
      }
      return null;
    },
  },
  {
    id: "disk-destroy",
    check: (c) => {
      const p = program(c);
      if (/^mkfs(\..+)?$/.test(p) || ["fdisk", "sfdisk", "parted", "wipefs", "mkswap", "shred"].includes(p)) {
        if (p === "shred" && !args(c).some((a) => a.startsWith("/dev/"))) return null;
        return { decision: "deny", reason: `${p} rewrites disks or partitions` };
      }
      if (p === "dd" && args(c).some((a) => /^of=\/dev\/(sd|hd|nvme|vd|xvd|disk|mmcblk|md|dm-)/.test(a))) {
        return { decision: "deny", reason: "dd onto a block device overwrites a disk" };
      }
      return null;
    },
  },
  {
    id: "chmod-chown-critical",
    check: (c, settings) => {
      const p = program(c);
      if (p !== "chmod" && p !== "chown" && p !== "chgrp") return null;
      const recursive = hasFlag(c, ["R"], ["--recursive"]);
      const targets = args(c).filter((a) => !a.startsWith("-"));
      const critical = targets.slice(1).find((t) => isCriticalPath(t, settings.cwd));
      if (recursive && critical) return { decision: "deny", reason: `${p} -R on ${critical}` };
      if (p === "chmod" && targets.some((t) => /^(0?777|a\+rwx|ugo\+rwx)$/.test(t))) {
        return { decision: "warn", reason: "chmod 777 makes files writable by everyone" };
      }
      return null;
    },
  },
  {
    id: "git-force-push",
    check: (c, settings) => {
      if (program(c) !== "git" || c.argv[1] !== "push") return null;
      const force = args(c).some(
        (a) => /^(--force|--force-with-lease(=.*)?|-f|--mirror|--delete|-d)$/.test(a) || /^\+/.test(a),
      );
      if (!force) return null;
      const refs = args(c)
        .slice(1)
        .filter((a) => !a.startsWith("-"))
        .slice(1)
        .map((r) => r.replace(/^\+/, "").split(":").pop() ?? r);
      const protectedHit = refs.find((r) =>
        settings.protectedBranches.some((b) => globMatch(b, r.replace(/^refs\/heads\//, ""))),
      );
      if (protectedHit) return { decision: "deny", reason: `force-push to protected branch ${protectedHit}` };
      return { decision: "ask", reason: "force-push rewrites the remote's history" };
    },
  },
  {
    id: "system-power",
    check: (c) => {
      const p = program(c);
      if (
        ["shutdown", "reboot", "halt", "poweroff", "init"].includes(p) &&
        !(p === "init" && c.argv.length === 1)
      ) {
        return { decision: "deny", reason: `${p} stops the machine` };
      }
      if (p === "systemctl" && ["poweroff", "reboot", "halt", "kexec"].includes(c.argv[1] ?? "")) {
        return { decision: "deny", reason: `systemctl ${c.argv[1]} stops the machine` };
      }
      if (p === "kill" && args(c).includes("1") && args(c).some((a) => /^-(9|KILL|SIGKILL)$/.test(a))) {
        return { decision: "deny", reason: "kill -9 1 kills init" };
      }
      return null;
    },
  },
  {
    id: "git-destructive",
    check: (c) => {
      if (program(c) !== "git") return null;
      if (c.argv[1] === "clean" && hasFlag(c, ["f"], ["--force"]) && hasFlag(c, ["x", "d"], [])) {
        return { decision: "ask", reason: "git clean -fdx deletes untracked and ignored files" };
      }
      if (c.argv[1] === "reset" && args(c).includes("--hard")) {
        return { decision: "warn", reason: "git reset --hard discards uncommitted changes" };
      }
      return null;
    },
  },
];

/** `*` matches within a path segment, `**` across segments. */
export function globMatch(pattern: string, value: string): boolean {
  const regex = pattern
    .split("**")
    .map((part) => part.split("*").map(escapeRegex).join("[^/]*"))
    .join(".*");
  return new RegExp(`^${regex}$`).test(value);
}

function escapeRegex(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
}

/** Files whose content is a secret: reading them leaks it, writing them may destroy it. */
export function isSecretPath(path: string): boolean {
  const name = base(path);
  if (/^\.env(\..+)?$/.test(name) && !/\.(example|sample|template|dist)$/.test(name)) return true;
  if (
    /^(id_(rsa|dsa|ecdsa|ed25519)(_sk)?|.*\.pem|.*\.key|.*\.p12|.*\.pfx|\.netrc|\.pgpass|\.npmrc|\.pypirc|credentials|\.git-credentials)$/.test(
      name,
    )
  ) {
    return !name.endsWith(".pub");
  }
  return /\/\.(ssh|aws|gnupg|kube|docker)\/|\/\.config\/(gcloud|gh)\/|\/\.azure\//.test(path);
}

/** A system location no project work writes to (/dev/null and friends, and the project, excepted). */
export function isSystemPath(path: string, cwd?: string): boolean {
  if (/^\/dev\/(null|zero|stdout|stderr|stdin|tty|fd\/\d+)$/.test(path)) return false;
  if (insideProject(path, cwd)) return false;
  return SYSTEM_DIRS.some((d) => path === d || path.startsWith(`${d}/`));
}
