import { posix } from "node:path";
import { isUnresolved, type SimpleCommand } from "./shell.js";

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

interface CommandRule {
  id: string;
  check(command: SimpleCommand, settings: BuiltinSettings): Omit<Finding, "rule"> | null;
}

export interface BuiltinSettings {
  protectedBranches: string[];
  /** The session's project directory: paths inside it are the project's own. */
  cwd?: string;
}

/**
 * `path` without `.`, `..` and trailing slashes, made absolute against cwd when it is relative;
 * a path in the home directory (`~`, `$HOME`, `${HOME}`) is spelled `~/...` (`~/..` when it
 * climbs out). A path starting with another variable is returned as it is. cwd may be a
 * directory a `cd` moved to: in the home directory (`~/x`), or unknown (`$DIR`: the path
 * becomes `$DIR/path`, unknown too).
 */
export function resolvePath(path: string, cwd?: string): string {
  // the same few paths are judged by several rules on every call
  const key = `${cwd ?? ""}\0${path}`;
  let resolved = resolvedPaths.get(key);
  if (resolved === undefined) {
    if (resolvedPaths.size >= 1000) resolvedPaths.clear();
    resolved = resolve(path, cwd);
    resolvedPaths.set(key, resolved);
  }
  return resolved;
}
const resolvedPaths = new Map<string, string>();

function resolve(path: string, cwd?: string): string {
  const home = /^(~|\$HOME|\$\{HOME\})(?=\/|$)/.exec(path);
  if (home) {
    const rest = posix.normalize(`.${path.slice(home[0].length)}`).replace(/\/+$/, "");
    return rest === "." ? "~" : `~/${rest}`;
  }
  if (path.startsWith("$") || path.startsWith("~")) return path;
  if (cwd !== undefined && !cwd.startsWith("/") && !path.startsWith("/")) {
    if (cwd === "~" || cwd.startsWith("~/")) return resolve(`${cwd}/${path}`);
    if (isUnresolved(cwd)) return `${cwd}/${path}`;
  }
  const absolute = path.startsWith("/") ? path : cwd?.startsWith("/") ? posix.join(cwd, path) : path;
  return posix.normalize(absolute).replace(/(.)\/+$/, "$1");
}

/**
 * Where `path`, an operand or redirection of `command`, is: relative to the directory a `cd`
 * in the line moved to (`cd /usr && rm -rf lib` is /usr/lib), else as written (relative to
 * the session's directory, cwd).
 */
export function located(path: string, command: SimpleCommand | undefined, cwd: string | undefined): string {
  if (command?.cwd === undefined) return path;
  return resolvePath(path, resolvePath(command.cwd, cwd));
}

/** Is `path` (absolute, or relative to cwd) inside the project directory? */
export function insideProject(path: string, cwd: string | undefined): boolean {
  if (!cwd || cwd === "/") return false;
  const root = resolvePath(cwd);
  const p = resolvePath(path, cwd);
  return p === root || p.startsWith(`${root}/`);
}

const base = (p: string) => p.slice(p.lastIndexOf("/") + 1);
const program = (c: SimpleCommand) => base(c.argv[0] ?? "");
const args = (c: SimpleCommand) => c.argv.slice(1);

/** The options of a command: the arguments before `--` that start with `-`. */
function options(c: SimpleCommand): string[] {
  const end = args(c).indexOf("--");
  return (end < 0 ? args(c) : args(c).slice(0, end)).filter((a) => a.startsWith("-"));
}

/** The operands of a command: arguments that are not options, everything after `--`. */
function operands(c: SimpleCommand): string[] {
  const end = args(c).indexOf("--");
  if (end < 0) return args(c).filter((a) => !a.startsWith("-"));
  return [
    ...args(c)
      .slice(0, end)
      .filter((a) => !a.startsWith("-")),
    ...args(c).slice(end + 1),
  ];
}

/** Short flags may be bundled: `-rf`, `-fr`, `-Rf`. */
function hasFlag(c: SimpleCommand, short: string[], long: string[]): boolean {
  return options(c).some(
    (a) => long.includes(a) || (!a.startsWith("--") && short.some((s) => a.slice(1).includes(s))),
  );
}

/** find runs a command on every file under its roots: that is recursive whatever its flags. */
const recursiveFlag = (c: SimpleCommand, short: string[]) =>
  hasFlag(c, short, ["--recursive"]) || c.runBy?.program === "find";

/** git's subcommand and its arguments, after global options such as `-C dir` or `-c key=value`. */
function gitCommand(c: SimpleCommand): { sub: string; rest: string[] } | null {
  if (program(c) !== "git") return null;
  let i = 1;
  while (i < c.argv.length && (c.argv[i] as string).startsWith("-")) {
    i += /^(-C|-c|--git-dir|--work-tree|--namespace|--exec-path|--config-env)$/.test(c.argv[i] as string)
      ? 2
      : 1;
  }
  return { sub: c.argv[i] ?? "", rest: c.argv.slice(i + 1) };
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

/**
 * `/`, `/*`, `~`, `$HOME`, a directory that holds the project (`/home/dev`, `../..`), a
 * system directory or anything in one, a glob in one of those (`/e*`, `~/.*`, `../*`) —
 * unless it is inside the project. The project directory itself is not critical here
 * (rm-critical asks about it, like `rm -rf .`).
 */
export function isCriticalPath(path: string, cwd?: string): boolean {
  const p = resolvePath(path, cwd);
  if (p === "~" || p === "~/*" || p === "~/.." || p.startsWith("~/../")) return true;
  const home = p.startsWith("~/");
  if (!p.startsWith("/") && !home) return false;
  const root = cwd?.startsWith("/") ? resolvePath(cwd) : null;
  if (root && (p === root || p.startsWith(`${root}/`))) return false;
  // a glob may match what makes its directory critical: /e* is /etc, ~/.* holds the keys
  const glob = p.search(GLOB);
  if (glob > 0) {
    const directory = p.slice(0, p.lastIndexOf("/", glob)) || "/";
    if (directory === "/" || isCriticalPath(directory, cwd)) return true;
  }
  if (home) return false;
  if (root && (root.startsWith(`${p}/`) || p === "/")) return true;
  if (["/", "/*", "/home", "/Users", "/home/*", "/Users/*"].includes(p)) return true;
  return SYSTEM_DIRS.some((d) => p === d || p === `${d}/*` || p.startsWith(`${d}/`));
}

/** The characters that make a word a glob pattern (braces are expanded before: shell.ts). */
const GLOB = /[*?[]/;

const WIDE_TARGETS = new Set(["*", ".", "..", "./*", "../*", ".*"]);

export const COMMAND_RULES: CommandRule[] = [
  {
    id: "rm-critical",
    check: (c, settings) => {
      if (program(c) !== "rm") return null;
      const targets = operands(c).map((t) => located(t, c, settings.cwd));
      if (options(c).includes("--no-preserve-root"))
        return { decision: "deny", reason: "rm --no-preserve-root" };
      const recursive = recursiveFlag(c, ["r", "R"]);
      const critical = targets.find((t) => isCriticalPath(t, settings.cwd));
      if (critical && (recursive || resolvePath(critical, settings.cwd) === "/")) {
        return {
          decision: "deny",
          reason: `rm ${recursive ? "-r " : ""}on ${critical}: deletes the system, a home directory or one holding the project`,
        };
      }
      const unknown = targets.find((t) => isUnresolved(resolvePath(t, settings.cwd)));
      if (recursive && unknown) {
        return {
          decision: "ask",
          reason: `rm -r on ${unknown}: a variable that cannot be resolved before it runs`,
        };
      }
      if (recursive && c.runBy?.program === "xargs") {
        return { decision: "ask", reason: "rm -r on paths read from input: they cannot be checked before" };
      }
      // find with tests such as -name deletes only what they select
      if (c.runBy?.program === "find" && c.runBy.filtered) return null;
      const root = settings.cwd?.startsWith("/") ? resolvePath(settings.cwd) : null;
      const wide = targets.find((t) => {
        const p = resolvePath(t, settings.cwd);
        return WIDE_TARGETS.has(t) || p === root || p === `${root}/*`;
      });
      if (recursive && wide)
        return { decision: "ask", reason: `rm -r ${wide} deletes everything in the project directory` };
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
      const recursive = recursiveFlag(c, ["R"]);
      const targets = operands(c);
      const critical = targets
        .slice(1)
        .map((t) => located(t, c, settings.cwd))
        .find((t) => isCriticalPath(t, settings.cwd));
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
      const git = gitCommand(c);
      if (git?.sub !== "push") return null;
      // +ref forces, :ref deletes the remote branch
      const force = git.rest.some(
        (a) => /^(--force|--force-with-lease(=.*)?|-f|--mirror|--delete|-d)$/.test(a) || /^[+:]/.test(a),
      );
      if (!force) return null;
      const refs = git.rest
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
      const git = gitCommand(c);
      if (!git) return null;
      if (git.sub === "clean" && hasFlag(c, ["f"], ["--force"]) && hasFlag(c, ["x", "d"], [])) {
        return { decision: "ask", reason: "git clean -fdx deletes untracked and ignored files" };
      }
      if (git.sub === "reset" && git.rest.includes("--hard")) {
        return { decision: "warn", reason: "git reset --hard discards uncommitted changes" };
      }
      return null;
    },
  },
];

/** `*` matches within a path segment, `**` across segments (tool names, paths, branches). */
function globMatch(pattern: string, value: string): boolean {
  return globRegex(pattern).test(value);
}

/** A glob (see globMatch) as an anchored regular expression, to compile once and test often. */
export function globRegex(pattern: string): RegExp {
  const regex = pattern
    .split("**")
    .map((part) => part.split("*").map(escapeRegex).join("[^/]*"))
    .join(".*");
  return new RegExp(`^${regex}$`);
}

/**
 * A command glob: `*` (and `**`) matches any text, spaces and `/` included — a command line is
 * not a path, and `psql *prod*` must match `psql postgres://prod-db/app`.
 */
export function commandGlobRegex(pattern: string): RegExp {
  return new RegExp(`^${pattern.split(/\*+/).map(escapeRegex).join(".*")}$`, "s");
}

function escapeRegex(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
}

/** Files whose content is a secret: reading them leaks it, writing them may destroy it. */
export function isSecretPath(path: string): boolean {
  const name = base(path);
  if (name.endsWith(".pub")) return false; // a public key
  if (/^\.env(\..+)?$/.test(name) && !/\.(example|sample|template|dist)$/.test(name)) return true;
  if (
    /^(id_(rsa|dsa|ecdsa|ed25519)(_sk)?|.*\.pem|.*\.key|.*\.p12|.*\.pfx|\.netrc|\.pgpass|\.npmrc|\.pypirc|credentials|\.git-credentials)$/.test(
      name,
    )
  ) {
    return !name.endsWith(".pub");
  }
  // the key directories themselves too: moving ~/.ssh away takes the keys with it
  return /\/\.(ssh|aws|gnupg|kube|docker)\/|\/\.(ssh|aws|gnupg)$|\/\.config\/(gcloud|gh)\/|\/\.azure\//.test(
    path,
  );
}

/** /dev/null and friends: devices any program may write to. */
export function isHarmlessDevice(path: string): boolean {
  return /^\/dev\/(null|zero|stdout|stderr|stdin|tty|fd\/\d+)$/.test(path);
}

/** A system location no project work writes to (/dev/null and friends, and the project, excepted). */
export function isSystemPath(path: string, cwd?: string): boolean {
  const p = resolvePath(path, cwd);
  if (isHarmlessDevice(p) || insideProject(p, cwd)) return false;
  return SYSTEM_DIRS.some((d) => p === d || p.startsWith(`${d}/`));
}
