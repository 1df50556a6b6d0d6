/**
 * Code an interpreter runs inline — `python -c`, `perl -e`, `ruby -e`, `node -e`, `php -r`,
 * `lua -e`, awk's program, `osascript -e`, or a here-document given to the interpreter — and
 * the shell commands that code would run. Its shell-out calls (os.system, subprocess.*,
 * system(), backticks, qx{}, child_process, ...) are found by their names; a call whose
 * command is written out as string literals yields that command (one string: a command line
 * for the shell; several, or a list: its argv), and a call built at run time makes the code
 * opaque. Deleting calls (shutil.rmtree, FileUtils.rm_rf, fs.rmSync, ...) yield the `rm` they
 * amount to. This reads code, it does not parse it: text inside the code's own strings that
 * looks like a call counts as one (a false alarm, never a miss).
 */

type Language = "python" | "perl" | "ruby" | "node" | "php" | "lua" | "awk" | "applescript";

interface InlineCode {
  language: Language;
  code: string;
}

interface CodeScan {
  /** Command lines the code hands to a shell. */
  lines: string[];
  /** Commands the code runs without a shell (argv), including `rm` for its deleting calls. */
  argvs: string[][];
  /** Lines whose standard input is the code's output (awk's `print | "sh"`). */
  pipedLines: string[];
  /** Calls whose command cannot be read from the code. */
  opaque: string[];
  /** The code evaluates something built at run time and downloads: it runs what it fetched. */
  runsFetched: boolean;
}

const LANGUAGES: [RegExp, Language][] = [
  [/^(python|pypy)(\d+(\.\d+)*)?$/, "python"],
  [/^perl(\d+(\.\d+)*)?$/, "perl"],
  [/^ruby(\d+(\.\d+)*)?$/, "ruby"],
  [/^(node|nodejs|bun)$/, "node"],
  [/^php(\d+(\.\d+)*)?$/, "php"],
  [/^(lua|luajit)(\d+(\.\d+)*)?$/, "lua"],
  [/^(awk|gawk|mawk|nawk)$/, "awk"],
  [/^osascript$/, "applescript"],
];

const languages = new Map<string, Language | null>();

export function languageOf(program: string): Language | null {
  let language = languages.get(program);
  if (language === undefined) {
    language = LANGUAGES.find(([pattern]) => pattern.test(program))?.[1] ?? null;
    if (languages.size >= 1000) languages.clear();
    languages.set(program, language);
  }
  return language;
}

/** Options (per language) whose value is the code, and options that take some other value. */
const CODE_FLAGS: Record<Language, { code: RegExp; valued: RegExp }> = {
  python: { code: /^-[bBdEhiIOPqsSuvR]*c/, valued: /^-[WX]$/ },
  perl: { code: /^-[a-zA-DF-Z0-9]*[eE]$/, valued: /^-[IMx]$/ },
  ruby: { code: /^-[a-zA-DF-Z0-9]*e$/, valued: /^-[IrCEFx]$/ },
  node: { code: /^(-[pe]+|--eval|--print)$/, valued: /^(-r|--require|--import|--loader)$/ },
  php: { code: /^-r$/, valued: /^-[cdz]$/ },
  lua: { code: /^-e$/, valued: /^-l$/ },
  awk: { code: /^(-e|--source)$/, valued: /^(-[Fvf]|--field-separator|--assign|--file)$/ },
  applescript: { code: /^-e$/, valued: /^-[is]$/ },
};

/**
 * The code `argv` runs inline, or null: a script file (or `python -m`) is not read. `stdin` is
 * the text of a here-document or here-string, used when no code or script is named.
 */
export function inlineCode(argv: readonly string[], stdin: string | undefined): InlineCode | null {
  const program = (argv[0] ?? "").slice((argv[0] ?? "").lastIndexOf("/") + 1);
  const language = languageOf(program);
  if (!language) return null;
  const flags = CODE_FLAGS[language];
  const parts: string[] = [];
  let i = 1;
  for (; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--" || a === "-" || !a.startsWith("-")) break;
    if (language === "python" && (a === "-m" || /^-[A-Za-z]*m$/.test(a))) return null;
    if (language === "awk" && /^(-f|--file)/.test(a)) return null;
    const eq = a.indexOf("=");
    if (a.startsWith("--") && eq > 0 && flags.code.test(a.slice(0, eq))) parts.push(a.slice(eq + 1));
    else if (flags.code.test(a)) {
      // python -c may carry the code in the same word (-c'...')
      const attached = language === "python" ? a.slice(a.indexOf("c") + 1) : "";
      if (attached) parts.push(attached);
      else parts.push(argv[++i] ?? "");
      if (language === "python") break; // the rest are the script's arguments
    } else if (flags.valued.test(a)) i++;
  }
  if (parts.length > 0) return { language, code: parts.join("\n") };
  // awk's first operand is its program
  if (language === "awk" && i < argv.length) return { language, code: argv[i] as string };
  const script = argv[i];
  if ((script === undefined || script === "-") && stdin !== undefined) return { language, code: stdin };
  return null;
}

/** The quotes that open a string literal, per language. */
const STRING_QUOTES: Record<Language, string> = {
  python: "'\"",
  perl: "'\"",
  ruby: "'\"",
  node: "'\"`",
  php: "'\"",
  lua: "'\"",
  awk: '"',
  applescript: '"',
};

const MAX_SPLICED = 32;

/**
 * The first of `parts` (text the shell spliced into the code: a substitution's output, an
 * unknown variable) that stands in the code outside its string literals, where it is code
 * rather than data — or undefined. `python -c "$X"` is code from X; `python -c "print('$X')"`
 * prints it.
 */
export function splicedCode({ language, code }: InlineCode, parts: string[]): string | undefined {
  const present: string[] = [];
  for (const part of new Set(parts)) {
    if (!code.includes(part)) continue;
    // code made of that many unknown pieces cannot be read anyway (and each is tried at each index)
    if (present.length === MAX_SPLICED) return part;
    present.push(part);
  }
  if (present.length === 0) return undefined;
  const quotes = STRING_QUOTES[language];
  let quote: string | null = null;
  for (let i = 0; i < code.length; i++) {
    const part = present.find((p) => code.startsWith(p, i));
    if (part !== undefined) {
      if (quote === null) return part;
      i += part.length - 1; // its own quotes do not end the string
      continue;
    }
    const c = code[i] as string;
    if (quote === null) {
      if (quotes.includes(c)) quote = c;
    } else if (c === "\\") i++;
    else if (c === quote) quote = null;
  }
  return undefined;
}

interface Pattern {
  regex: RegExp;
  kind: "shell" | "argv" | "delete" | "delete-recursive" | "eval";
  /** The call may go without parentheses (perl's `system "ls"`, lua's `os.execute"ls"`). */
  bare?: boolean;
}

const SHELL_OUT: Record<Language, Pattern[]> = {
  python: [
    {
      regex:
        /(?:\bos\s*\.\s*|\)\s*\.\s*|(?<![\w.]))(?:system|popen)\s*\(|\bsubprocess\s*\.\s*(?:run|call|check_call|check_output|Popen|getoutput|getstatusoutput)\s*\(|\bcommands\s*\.\s*getoutput\s*\(|\bpty\s*\.\s*spawn\s*\(|\bos\s*\.\s*(?:exec|spawn)[lvpe]*\s*\(/g,
      kind: "shell",
    },
    { regex: /\bshutil\s*\.\s*rmtree\s*\(/g, kind: "delete-recursive" },
    { regex: /\bos\s*\.\s*(?:remove|unlink|rmdir|removedirs)\s*\(/g, kind: "delete" },
    { regex: /(?<![\w.])(?:exec|eval)\s*\(/g, kind: "eval" },
  ],
  perl: [
    { regex: /\b(?:system|exec)\b\s*\(?/g, kind: "shell", bare: true },
    { regex: /\b(?:rmtree|remove_tree)\s*\(?/g, kind: "delete-recursive", bare: true },
    { regex: /\bunlink\b\s*\(?/g, kind: "delete", bare: true },
  ],
  ruby: [
    {
      regex:
        /(?:\bKernel\s*\.\s*|(?<![\w.]))(?:system|exec|spawn)\b\s*\(?|\bIO\s*\.\s*popen\s*\(|\bOpen3\s*\.\s*\w+\s*\(/g,
      kind: "shell",
      bare: true,
    },
    {
      regex: /\bFileUtils\s*\.\s*(?:rm_rf|rm_r|remove_dir|remove_entry|remove_entry_secure|rmtree)\b\s*\(?/g,
      kind: "delete-recursive",
      bare: true,
    },
    { regex: /\b(?:FileUtils\s*\.\s*rm|File\s*\.\s*(?:delete|unlink))\b\s*\(?/g, kind: "delete", bare: true },
    { regex: /(?<![\w.])(?:eval|instance_eval)\s*\(?/g, kind: "eval", bare: true },
  ],
  node: [
    { regex: /\b(?:execSync|exec)\s*\(/g, kind: "shell" },
    { regex: /\b(?:execFileSync|execFile|spawnSync|spawn)\s*\(/g, kind: "argv" },
    { regex: /\b(?:rmSync|rmdirSync)\s*\(|\.(?:rm|rmdir)\s*\(/g, kind: "delete-recursive" },
    { regex: /\bunlinkSync\s*\(|\.unlink\s*\(/g, kind: "delete" },
    { regex: /(?<![\w.])eval\s*\(|\bnew\s+Function\s*\(|\bvm\s*\.\s*run\w*\s*\(/g, kind: "eval" },
  ],
  php: [
    { regex: /\b(?:system|exec|shell_exec|passthru|popen|proc_open)\s*\(/g, kind: "shell" },
    { regex: /\bpcntl_exec\s*\(/g, kind: "argv" },
    { regex: /\b(?:unlink|rmdir)\s*\(/g, kind: "delete" },
    { regex: /\beval\s*\(/g, kind: "eval" },
  ],
  lua: [
    { regex: /\b(?:os\s*\.\s*execute|io\s*\.\s*popen)\s*\(?/g, kind: "shell", bare: true },
    { regex: /\bos\s*\.\s*remove\s*\(/g, kind: "delete" },
    { regex: /\b(?:loadstring|load)\s*\(/g, kind: "eval" },
  ],
  awk: [{ regex: /\bsystem\s*\(/g, kind: "shell" }],
  applescript: [{ regex: /\bdo\s+shell\s+script\s*/g, kind: "shell", bare: true }],
};

/** Names that hand work to a shell, however they are reached (aliases, getattr, destructuring). */
const MENTIONS: Partial<Record<Language, RegExp>> = {
  python: /\b(subprocess|os\s*\.\s*(system|popen|exec\w*|spawn\w*)|pty|commands)\b/,
  node: /\bchild_process\b|\bBun\s*\.\s*spawn|\bDeno\s*\.\s*(run|Command)\b/,
  ruby: /\bOpen3\b|\bIO\s*\.\s*popen\b/,
};

/** Code that can be followed only when it is named directly: `import subprocess as sp`, `from os import *`. */
const ALIASES: Partial<Record<Language, RegExp>> = {
  python:
    /\bimport\s+(subprocess|os|pty)\s+as\b|\bfrom\s+(subprocess|pty)\s+import\b|\bfrom\s+os\s+import\s+(\*|.*\b(system|popen|exec\w*|spawn\w*)\b)|\bgetattr\s*\(\s*(os|subprocess)\b/,
};

const FETCHES =
  /\b(urlopen|urllib|requests\s*\.\s*get|httpx|http\.client|fetch\s*\(|https?\s*\.\s*get|axios|Net::HTTP|open-uri|URI\s*\.\s*open|LWP|HTTP::Tiny|file_get_contents\s*\(\s*['"]https?:|curl_exec)\b/;

/** Shell commands `code` runs (see CodeScan). */
export function scanCode({ language, code }: InlineCode): CodeScan {
  const scan: CodeScan = { lines: [], argvs: [], pipedLines: [], opaque: [], runsFetched: false };
  const opaque = (what: string) => scan.opaque.push(`${language} ${what.trim().slice(0, 80)}`);
  // node: exec and spawn are child_process' only when the code reaches child_process
  const nodeShell = language !== "node" || MENTIONS.node?.test(code);
  let calls = 0;
  for (const { regex, kind, bare } of SHELL_OUT[language]) {
    if (language === "node" && (kind === "shell" || kind === "argv") && !nodeShell) continue;
    regex.lastIndex = 0;
    for (let m = regex.exec(code); m; m = regex.exec(code)) {
      const parenthesised = m[0].trimEnd().endsWith("(");
      const after = m.index + m[0].length;
      // without parentheses a call needs its argument right after the name (`system "ls"`,
      // `system $cmd`): `print if /system/` is no call
      if (!parenthesised && !(bare && /^[\s]*["'$@\w[]/.test(code.slice(after, after + 40)))) continue;
      const args = readArgs(code, after, parenthesised, language);
      if (kind === "eval") {
        if (args[0] === null || args[0] === undefined) {
          opaque(m[0] + code.slice(m.index + m[0].length, m.index + m[0].length + 40));
          if (FETCHES.test(code)) scan.runsFetched = true;
        }
        continue; // a literal is already in the code being scanned
      }
      calls++;
      const literal = leadingLiterals(args);
      if (literal === null) {
        opaque(code.slice(m.index, m.index + m[0].length + 40));
        continue;
      }
      if (kind === "delete" || kind === "delete-recursive") {
        const recursive =
          kind === "delete-recursive" && (language !== "node" || /recursive\s*:\s*true/.test(code));
        const path = typeof literal[0] === "string" ? literal[0] : undefined;
        if (path !== undefined) scan.argvs.push(recursive ? ["rm", "-r", "--", path] : ["rm", "--", path]);
        continue;
      }
      if (kind === "shell" && literal.length === 1 && typeof literal[0] === "string")
        scan.lines.push(literal[0]);
      else scan.argvs.push(literal.flat());
    }
  }
  scanQuotedCommands(language, code, scan);
  const mentions = MENTIONS[language]?.test(code) ?? false;
  if (ALIASES[language]?.test(code) || (mentions && calls === 0)) opaque(code.slice(0, 80));
  return scan;
}

/** Backticks, qx{} and %x{} (perl, ruby, php), and awk's pipes to and from commands. */
function scanQuotedCommands(language: Language, code: string, scan: CodeScan): void {
  if (language === "perl" || language === "ruby" || language === "php") {
    for (const m of code.matchAll(/`([^`]*)`/g)) scan.lines.push(m[1] as string);
    const quoteLike = language === "perl" ? /\bqx\s*([^\w\s])/g : language === "ruby" ? /%x([^\w\s])/g : null;
    for (const m of quoteLike ? code.matchAll(quoteLike) : []) {
      const open = m[1] as string;
      const close = { "{": "}", "(": ")", "[": "]", "<": ">" }[open] ?? open;
      const start = (m.index ?? 0) + m[0].length;
      const end = code.indexOf(close, start);
      scan.lines.push(code.slice(start, end < 0 ? undefined : end));
    }
  }
  if (language === "awk") {
    // print ... | "cmd" feeds cmd; "cmd" | getline reads from it
    for (const m of code.matchAll(/\|\s*"((?:[^"\\]|\\.)*)"/g))
      scan.pipedLines.push(decodeEscapes(m[1] as string));
    for (const m of code.matchAll(/"((?:[^"\\]|\\.)*)"\s*\|\s*getline/g))
      scan.lines.push(decodeEscapes(m[1] as string));
  }
}

const decodeEscapes = (s: string) => s.replace(/\\(.)/g, (_, c: string) => ({ n: "\n", t: "\t" })[c] ?? c);

type Arg = string | string[] | null;

/**
 * The arguments of a call starting at `start` (just after `(`, or after the name for a call
 * without parentheses): string literals, lists of them, and null for anything else.
 */
function readArgs(code: string, start: number, parenthesised: boolean, language: Language): Arg[] {
  const args: Arg[] = [];
  let i = start;
  const skip = () => {
    while (i < code.length && /[ \t\r\n]/.test(code[i] as string)) i++;
  };
  const end = (c: string | undefined) =>
    c === undefined || (parenthesised ? c === ")" : c === ";" || c === "\n" || c === "}" || c === ")");
  for (;;) {
    skip();
    if (end(code[i])) break;
    let arg: Arg = null;
    const literal = readLiteral(code, i, language);
    if (literal) {
      arg = literal.value;
      i = literal.end;
    } else if (code[i] === "[") {
      const items: string[] = [];
      i++;
      for (;;) {
        skip();
        if (code[i] === "]") {
          i++;
          break;
        }
        const item = readLiteral(code, i, language);
        if (!item || item.value === null) {
          arg = null;
          i = skipExpression(code, i, parenthesised);
          break;
        }
        items.push(item.value);
        i = item.end;
        skip();
        if (code[i] === ",") i++;
        arg = items;
      }
      if (arg !== null && !Array.isArray(arg)) arg = items;
    } else {
      i = skipExpression(code, i, parenthesised);
    }
    skip();
    // a literal followed by more expression (`'rm -rf ' + d`, `'%s' % d`) is not a literal
    if (!end(code[i]) && code[i] !== ",") {
      arg = null;
      i = skipExpression(code, i, parenthesised);
      skip();
    }
    args.push(arg);
    if (code[i] === ",") i++;
    else break;
  }
  return args;
}

/** Skips to the next `,` or the end of the arguments at this nesting depth. */
function skipExpression(code: string, start: number, parenthesised: boolean): number {
  let depth = 0;
  let i = start;
  for (; i < code.length; i++) {
    const c = code[i] as string;
    if (c === "'" || c === '"' || c === "`") {
      const close = code.indexOf(c, i + 1);
      i = close < 0 ? code.length : close;
    } else if ("([{".includes(c)) depth++;
    else if (")]}".includes(c)) {
      if (depth === 0) break;
      depth--;
    } else if (depth === 0 && (c === "," || (!parenthesised && (c === ";" || c === "\n")))) break;
  }
  return i;
}

/** A string literal at `start`: its text (null when it interpolates something) and where it ends. */
function readLiteral(
  code: string,
  start: number,
  language: Language,
): { value: string | null; end: number } | null {
  let i = start;
  let prefix = "";
  if (language === "python") {
    const p = /^[rRbBuUfF]{0,2}(?=['"])/.exec(code.slice(i, i + 3));
    prefix = p?.[0].toLowerCase() ?? "";
    i += prefix.length;
  }
  const quote = code[i];
  const quotes = language === "node" ? "'\"`" : language === "awk" ? '"' : "'\"";
  if (quote === undefined || !quotes.includes(quote)) return null;
  const triple = language === "python" && code.startsWith(quote.repeat(3), i);
  const delimiter = triple ? quote.repeat(3) : quote;
  i += delimiter.length;
  const raw = prefix.includes("r");
  // single quotes in perl, ruby and php keep backslashes but \\ and \'
  const plain = quote === "'" && (language === "perl" || language === "ruby" || language === "php");
  let value = "";
  while (i < code.length && !code.startsWith(delimiter, i)) {
    const c = code[i] as string;
    if (c === "\\" && !raw && i + 1 < code.length) {
      const next = code[i + 1] as string;
      value += plain ? (next === "\\" || next === "'" ? next : c + next) : decodeEscapes(c + next);
      i += 2;
      continue;
    }
    value += c;
    i++;
  }
  const interpolates =
    (language === "python" && prefix.includes("f") && /\{/.test(value)) ||
    (language === "ruby" && quote === '"' && value.includes("#{"));
  return { value: interpolates ? null : value, end: i + delimiter.length };
}

/** The leading literal arguments (strings or lists), or null when the first is not one. */
function leadingLiterals(args: Arg[]): (string | string[])[] | null {
  const out: (string | string[])[] = [];
  for (const a of args) {
    if (a === null) break;
    out.push(a);
  }
  return out.length === 0 ? null : out;
}
