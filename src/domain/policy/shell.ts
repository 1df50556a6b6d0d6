/**
 * Shell command analysis for the pre-tool policy: a command line is split into the simple
 * commands it would run — across `&&`, `||`, `;`, `|`, `&`, newlines, subshells, `$(...)`,
 * backticks and process substitution — and the commands hidden inside `bash -c '...'`,
 * `eval ...`, `xargs cmd`, `find -exec cmd`, `env`/`sudo`/`nohup`/`time` prefixes are
 * analysed too. Quoting is honoured, so `echo "a && b"` is one command. Rules then look at
 * each simple command's program and arguments, never at a prefix of the raw text.
 */

export interface Redirect {
  op: string;
  target: string;
}

export interface SimpleCommand {
  /** Program and arguments after quote removal, with env assignments and wrappers removed. */
  argv: string[];
  /** Redirections of this command (`>`, `>>`, `2>`, `&>`, `<`, ...). */
  redirects: Redirect[];
  /** Its standard input comes from a pipe (`... | this`). */
  pipedInput: boolean;
  /** Wrappers that were stripped in front of it (`sudo`, `env`, `nohup`, ...). */
  wrappers: string[];
}

export interface ShellAnalysis {
  commands: SimpleCommand[];
  /** Constructs that cannot be analysed statically (e.g. `eval $VAR`, `bash -c "$X"`). */
  opaque: string[];
  /** A function that calls itself in the background through a pipe: `:(){ :|:& };:`. */
  forkBomb: boolean;
}

type Token = { kind: "word"; value: string; raw: string } | { kind: "op"; value: string };

const OPERATORS = ["&&", "||", ";;", "|&", ";", "|", "&", "(", ")", "\n"];
const REDIRECT = /^(\d*|&)(>>|>\||>&|<&|<<<|<<-?|<>|>|<)$/;
const WRAPPERS = new Set([
  "sudo",
  "doas",
  "env",
  "nohup",
  "time",
  "nice",
  "ionice",
  "exec",
  "command",
  "builtin",
  "stdbuf",
  "timeout",
  "watch",
  "chroot",
  "su",
]);
const SHELLS = new Set(["sh", "bash", "zsh", "dash", "ksh", "fish", "ash", "busybox"]);
const MAX_DEPTH = 8;

const basename = (p: string) => p.slice(p.lastIndexOf("/") + 1);

/**
 * Splits text into words and operators. Inside words, quotes are removed and `$(...)`,
 * backticks and `<(...)` are collected as nested command lines for separate analysis.
 */
function tokenize(text: string, nested: string[]): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let word = "";
  let raw = "";
  let inWord = false;
  const flush = () => {
    if (inWord) tokens.push({ kind: "word", value: word, raw });
    word = "";
    raw = "";
    inWord = false;
  };
  /** Reads a balanced `(...)` starting after the opening paren; returns the inside. */
  const readBalanced = (): string => {
    let depth = 1;
    let inner = "";
    while (i < text.length) {
      const c = text[i] as string;
      if (c === "\\") {
        inner += c + (text[i + 1] ?? "");
        i += 2;
        continue;
      }
      if (c === "'") {
        const end = text.indexOf("'", i + 1);
        const stop = end < 0 ? text.length : end + 1;
        inner += text.slice(i, stop);
        i = stop;
        continue;
      }
      if (c === "(") depth++;
      if (c === ")" && --depth === 0) {
        i++;
        return inner;
      }
      inner += c;
      i++;
    }
    return inner;
  };
  while (i < text.length) {
    const c = text[i] as string;
    if (c === "\\") {
      if (text[i + 1] === "\n") {
        i += 2;
        continue;
      }
      word += text[i + 1] ?? "";
      raw += c + (text[i + 1] ?? "");
      inWord = true;
      i += 2;
      continue;
    }
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      const stop = end < 0 ? text.length : end;
      word += text.slice(i + 1, stop);
      raw += text.slice(i, stop + 1);
      inWord = true;
      i = stop + 1;
      continue;
    }
    if (c === '"') {
      i++;
      inWord = true;
      raw += '"';
      while (i < text.length && text[i] !== '"') {
        const d = text[i] as string;
        if (d === "\\" && i + 1 < text.length) {
          word += text[i + 1];
          raw += d + text[i + 1];
          i += 2;
        } else if (d === "$" && text[i + 1] === "(") {
          i += 2;
          const inner = readBalanced();
          nested.push(inner);
          word += `$(${inner})`;
          raw += `$(${inner})`;
        } else if (d === "`") {
          const end = text.indexOf("`", i + 1);
          const stop = end < 0 ? text.length : end;
          nested.push(text.slice(i + 1, stop));
          word += text.slice(i, stop + 1);
          raw += text.slice(i, stop + 1);
          i = stop + 1;
        } else {
          word += d;
          raw += d;
          i++;
        }
      }
      raw += '"';
      i++;
      continue;
    }
    if (c === "$" && text[i + 1] === "(") {
      i += 2;
      const arithmetic = text[i] === "(";
      const inner = readBalanced();
      if (!arithmetic) nested.push(inner);
      word += `$(${inner})`;
      raw += `$(${inner})`;
      inWord = true;
      continue;
    }
    if ((c === "<" || c === ">") && text[i + 1] === "(") {
      flush();
      i += 2;
      nested.push(readBalanced());
      continue;
    }
    if (c === "`") {
      const end = text.indexOf("`", i + 1);
      const stop = end < 0 ? text.length : end;
      nested.push(text.slice(i + 1, stop));
      word += text.slice(i, stop + 1);
      raw += text.slice(i, stop + 1);
      inWord = true;
      i = stop + 1;
      continue;
    }
    if (c === "#" && !inWord) {
      while (i < text.length && text[i] !== "\n") i++;
      continue;
    }
    if (c === " " || c === "\t" || c === "\r") {
      flush();
      i++;
      continue;
    }
    // redirections: digits or & directly followed by > or <
    if (c === ">" || c === "<") {
      let op = c;
      const prefix = inWord && /^(\d+|&)$/.test(word) ? word : "";
      if (prefix) {
        word = "";
        raw = "";
        inWord = false;
      } else flush();
      i++;
      while (i < text.length && /[>&|<-]/.test(text[i] as string) && op.length < 3) {
        op += text[i];
        i++;
      }
      tokens.push({ kind: "op", value: prefix + op });
      continue;
    }
    if (c === "&" && text[i + 1] === ">") {
      flush();
      let op = "&>";
      i += 2;
      if (text[i] === ">") {
        op += ">";
        i++;
      }
      tokens.push({ kind: "op", value: op });
      continue;
    }
    const operator = OPERATORS.find((o) => text.startsWith(o, i));
    if (operator) {
      flush();
      tokens.push({ kind: "op", value: operator });
      i += operator.length;
      continue;
    }
    if (c === "{" || c === "}") {
      // braces group commands only as separate words: treat them as separators
      if (
        !inWord &&
        (text[i + 1] === " " || text[i + 1] === "\n" || text[i + 1] === undefined || c === "}")
      ) {
        flush();
        tokens.push({ kind: "op", value: ";" });
        i++;
        continue;
      }
    }
    word += c;
    raw += c;
    inWord = true;
    i++;
  }
  flush();
  return tokens;
}

const SEPARATORS = new Set([";", "&&", "||", "&", "\n", "(", ")", ";;"]);
const CONTROL_WORDS = new Set([
  "if",
  "then",
  "else",
  "elif",
  "fi",
  "do",
  "done",
  "while",
  "until",
  "for",
  "case",
  "esac",
  "in",
  "function",
  "!",
  "{",
  "}",
  "select",
]);

function splitCommands(tokens: Token[]): { words: Token[]; redirects: Redirect[]; piped: boolean }[] {
  const out: { words: Token[]; redirects: Redirect[]; piped: boolean }[] = [];
  let current: { words: Token[]; redirects: Redirect[]; piped: boolean } = {
    words: [],
    redirects: [],
    piped: false,
  };
  const finish = (nextPiped: boolean) => {
    if (current.words.length > 0 || current.redirects.length > 0) out.push(current);
    current = { words: [], redirects: [], piped: nextPiped };
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    if (t.kind === "op") {
      if (t.value === "|" || t.value === "|&") finish(true);
      else if (SEPARATORS.has(t.value)) finish(false);
      else if (REDIRECT.test(t.value)) {
        const target = tokens[i + 1];
        if (target?.kind === "word") {
          current.redirects.push({ op: t.value, target: target.value });
          i++;
        }
      }
      continue;
    }
    current.words.push(t);
  }
  finish(false);
  return out;
}

/** Drops assignments (`A=1`), control words and wrappers in front of the program. */
function unwrap(words: string[]): { argv: string[]; wrappers: string[] } {
  const wrappers: string[] = [];
  let i = 0;
  for (;;) {
    while (
      i < words.length &&
      (CONTROL_WORDS.has(words[i] as string) || /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i] as string))
    ) {
      i++;
    }
    const program = basename(words[i] ?? "");
    if (!WRAPPERS.has(program)) break;
    wrappers.push(program);
    i++;
    // wrapper options, and their arguments where we know them
    while (i < words.length && (words[i] as string).startsWith("-")) {
      const option = words[i] as string;
      i++;
      if ((program === "sudo" || program === "doas") && /^-[ugpCDhrt]$/.test(option)) i++;
      if (program === "su" && option === "-c") return { argv: ["sh", "-c", ...words.slice(i)], wrappers };
      if ((program === "nice" || program === "ionice") && /^-[nc]$/.test(option)) i++;
    }
    if (program === "timeout" && /^\d/.test(words[i] ?? "")) i++;
  }
  return { argv: words.slice(i), wrappers };
}

export function analyzeShell(command: string): ShellAnalysis {
  const analysis: ShellAnalysis = {
    commands: [],
    opaque: [],
    forkBomb: /(\S+)\s*\(\)\s*\{[^}]*\1\s*\|\s*\1\s*&/.test(command),
  };
  visit(command, analysis, 0);
  return analysis;
}

function visit(text: string, analysis: ShellAnalysis, depth: number): void {
  if (depth > MAX_DEPTH) {
    analysis.opaque.push(text);
    return;
  }
  const nested: string[] = [];
  const tokens = tokenize(text, nested);
  for (const inner of nested) visit(inner, analysis, depth + 1);
  for (const { words, redirects, piped } of splitCommands(tokens)) {
    const values = words.map((w) => (w.kind === "word" ? w.value : ""));
    const { argv, wrappers } = unwrap(values);
    if (argv.length === 0 && redirects.length === 0) continue;
    analysis.commands.push({ argv, redirects, pipedInput: piped, wrappers });
    expandInner(argv, analysis, depth);
  }
}

/** Commands that run other commands given as arguments. */
function expandInner(argv: string[], analysis: ShellAnalysis, depth: number): void {
  const program = basename(argv[0] ?? "");
  if (SHELLS.has(program)) {
    const c = argv.findIndex((a, i) => i > 0 && /^-[a-z]*c[a-z]*$/.test(a));
    if (c > 0) {
      const script = argv[c + 1];
      if (script === undefined || script.includes("$")) analysis.opaque.push(argv.join(" "));
      if (script !== undefined) visit(script, analysis, depth + 1);
    }
    return;
  }
  if (program === "eval") {
    const script = argv.slice(1).join(" ");
    if (script.includes("$")) analysis.opaque.push(argv.join(" "));
    visit(script, analysis, depth + 1);
    return;
  }
  if (program === "xargs") {
    let i = 1;
    while (i < argv.length && (argv[i] as string).startsWith("-")) {
      if (/^-[IdEeLnPs]$/.test(argv[i] as string)) i++;
      i++;
    }
    const rest = argv.slice(i);
    if (rest.length > 0) pushDerived(rest, analysis, depth);
    return;
  }
  if (program === "find") {
    for (let i = 1; i < argv.length; i++) {
      if (argv[i] === "-exec" || argv[i] === "-execdir" || argv[i] === "-ok" || argv[i] === "-okdir") {
        const end = argv.findIndex((a, j) => j > i && (a === ";" || a === "+" || a === "\\;"));
        pushDerived(argv.slice(i + 1, end < 0 ? undefined : end), analysis, depth);
      }
      if (argv[i] === "-delete")
        analysis.commands.push({
          argv: ["rm", "-r", ...findRoots(argv)],
          redirects: [],
          pipedInput: false,
          wrappers: ["find -delete"],
        });
    }
  }
}

function findRoots(argv: string[]): string[] {
  const roots: string[] = [];
  for (let i = 1; i < argv.length && !(argv[i] as string).startsWith("-"); i++) roots.push(argv[i] as string);
  return roots.length ? roots : ["."];
}

function pushDerived(argv: string[], analysis: ShellAnalysis, depth: number): void {
  const { argv: inner, wrappers } = unwrap(argv);
  if (inner.length === 0) return;
  analysis.commands.push({ argv: inner, redirects: [], pipedInput: false, wrappers });
  expandInner(inner, analysis, depth + 1);
}
