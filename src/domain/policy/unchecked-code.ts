import { type ArgSpec, hasOption, optionValue, parseArgs } from "./argv.js";
import { type Finding, located, resolvePath } from "./builtin-rules.js";
import { languageOf } from "./interpreters.js";
import { SHELLS, type ShellAnalysis, type SimpleCommand } from "./shell.js";

/**
 * Code that runs without anyone being able to read it first:
 * - download-and-run (deny): what a download produced, run in the same command line — through
 *   a process substitution (`bash <(curl ...)`, `source <(wget -O- ...)`), from the file it was
 *   saved to (`curl -o x.sh URL && sh x.sh`, `wget URL/x; chmod +x x; ./x`), by a construct
 *   that cannot be checked (`eval "$(curl ...)"`), or by interpreter code that evaluates what
 *   it fetches;
 * - opaque-command (ask): a construct that cannot be checked statically (ShellAnalysis.opaque),
 *   and code another program prints run through a process substitution
 *   (`source <(kubectl completion bash)`).
 * A download piped straight into a shell is pipe-to-shell's (builtin-rules.ts).
 */

const DOWNLOADERS = new Set(["curl", "wget", "fetch", "aria2c"]);

const base = (p: string) => p.slice(p.lastIndexOf("/") + 1);
const isDownload = (c: SimpleCommand) => DOWNLOADERS.has(base(c.argv[0] ?? ""));

const CURL: ArgSpec = {
  short: "odHXuAebcFTwxmrEKCYyzUQtP",
  long: [
    "output",
    "data",
    "data-raw",
    "data-binary",
    "data-urlencode",
    "header",
    "request",
    "user",
    "user-agent",
    "referer",
    "cookie",
    "cookie-jar",
    "form",
    "upload-file",
    "write-out",
    "proxy",
    "max-time",
    "connect-timeout",
    "retry",
    "range",
    "cert",
    "key",
    "cacert",
    "config",
    "output-dir",
    "url",
  ],
};
const WGET: ArgSpec = {
  short: "OoaPUetTwiQlADRIX",
  long: ["output-document", "output-file", "directory-prefix", "user-agent", "header", "tries", "timeout"],
};
const STDOUT_REDIRECT = /^(1?>|1?>>|1?>\||&>|&>>)$/;

/** The file name a download of `url` gets by default: its last path segment. */
function urlName(url: string): string {
  const path = url.replace(/[?#].*$/, "").replace(/^[a-z]+:\/\/[^/]*/i, "");
  return base(path) || "index.html";
}

/** The files a download command writes (its standard output's redirect when it prints). */
function downloadedFiles(c: SimpleCommand): string[] {
  const program = base(c.argv[0] ?? "");
  const stdout = c.redirects.filter((r) => STDOUT_REDIRECT.test(r.op)).map((r) => r.target);
  const args = c.argv.slice(1);
  if (program === "wget") {
    const parsed = parseArgs(args, WGET);
    const out = optionValue(parsed, "O", "output-document");
    if (out === "-") return stdout;
    if (out !== undefined) return [out];
    const prefix = optionValue(parsed, "P", "directory-prefix");
    return parsed.operands.map((u) => (prefix ? `${prefix}/${urlName(u)}` : urlName(u)));
  }
  const parsed = parseArgs(args, CURL);
  const files = parsed.options.filter((o) => o.name === "o" || o.name === "output").map((o) => o.value);
  if (program === "curl" && hasOption(parsed, "O", "remote-name", "remote-name-all")) {
    files.push(...parsed.operands.map(urlName));
  }
  return files.length === 0 || files.includes("-") ? [...files.filter((f) => f !== "-"), ...stdout] : files;
}

/** Options of shells and interpreters that take a value (not the script). */
const VALUED = /^(-[oOWXrIMl]|--(rcfile|init-file|require|import|loader|eval-source|config))$|^\+O$/;
/** Options that give the code inline (or a module to run): then no script file is run. */
const INLINE: Record<string, RegExp> = {
  shell: /^-[A-Za-z]*c[A-Za-z]*$/,
  python: /^-[A-Za-z]*[cm]/,
  perl: /^-[A-Za-z]*[eE]$/,
  ruby: /^-[A-Za-z]*e$/,
  lua: /^-e$/,
  node: /^(-[pe]+|--eval|--print)(=.*)?$/,
  php: /^-r$/,
};

/** The files a command runs as code: a shell's, source's or an interpreter's script, or the program itself. */
function codeFiles(c: SimpleCommand): string[] {
  const program = c.argv[0] ?? "";
  const name = base(program);
  const files = program.includes("/") ? [program] : [];
  if (name === "source" || name === ".") {
    if (c.argv[1] !== undefined) files.push(c.argv[1]);
    return files;
  }
  const inline = INLINE[SHELLS.has(name) ? "shell" : (languageOf(name) ?? "")];
  if (!inline) return files;
  for (let i = 1; i < c.argv.length; i++) {
    const a = c.argv[i] as string;
    if (inline.test(a)) return files;
    if (a === "-s" || a === "-" || a === "--") break; // the script comes from the input
    if (VALUED.test(a)) i++;
    else if (!a.startsWith("-") && !a.startsWith("+")) return [...files, a];
  }
  // no script named: the input is the script
  for (const r of c.redirects) if (r.op === "<") files.push(r.target);
  return files;
}

export function uncheckedCodeFindings(
  analysis: ShellAnalysis,
  cwd: string | undefined,
): { finding: Finding; command?: SimpleCommand }[] {
  const findings: { finding: Finding; command?: SimpleCommand }[] = [];
  const downloaded = new Set<string>();
  for (const command of analysis.commands) {
    for (const file of codeFiles(command)) {
      const process = command.processes?.get(file);
      if (process?.some(isDownload)) {
        findings.push({
          finding: {
            rule: "download-and-run",
            decision: "deny",
            reason: `runs what a download prints: ${file}`,
          },
          command,
        });
      } else if (process) {
        findings.push({
          finding: {
            rule: "opaque-command",
            decision: "ask",
            reason: `runs code another program prints, which cannot be checked before: ${file.slice(0, 120)}`,
          },
          command,
        });
      } else if (downloaded.size > 0 && downloaded.has(resolvePath(located(file, command, cwd), cwd))) {
        findings.push({
          finding: {
            rule: "download-and-run",
            decision: "deny",
            reason: `runs ${file}, which a download in the same command wrote`,
          },
          command,
        });
      }
    }
    const files = isDownload(command)
      ? downloadedFiles(command)
      : command.pipedFrom && isDownload(command.pipedFrom) && base(command.argv[0] ?? "") === "tee"
        ? command.argv.slice(1).filter((a) => !a.startsWith("-"))
        : [];
    for (const file of files) downloaded.add(resolvePath(located(file, command, cwd), cwd));
  }
  if (analysis.runsDownload.length > 0) {
    findings.push({
      finding: {
        rule: "download-and-run",
        decision: "deny",
        reason: `evaluates code it downloads: ${analysis.runsDownload[0]}`,
      },
    });
  }
  if (analysis.opaque.length > 0) {
    // whatever cannot be checked may be running what a download in the line produced
    findings.push({
      finding: analysis.commands.some(isDownload)
        ? { rule: "download-and-run", decision: "deny", reason: "runs code produced by a download" }
        : {
            rule: "opaque-command",
            decision: "ask",
            reason: `cannot be checked before it runs: ${analysis.opaque[0]?.slice(0, 120)}`,
          },
    });
  }
  return findings;
}
