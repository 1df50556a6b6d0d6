/**
 * Shell command analysis for the pre-tool policy: a command line is split into the simple
 * commands it would run — across `&&`, `||`, `;`, `|`, `&`, newlines, subshells, `$(...)`,
 * backticks and process substitution — and the commands hidden inside `bash -c '...'`,
 * `eval ...`, `su -c`, `env -S`, `watch`, `xargs cmd`, `find -exec cmd` (with `{}` replaced by
 * find's roots), here-documents given to a shell, and `env`/`sudo`/`nohup`/`timeout`/...
 * prefixes (with their option arguments) are analysed too. Quoting is honoured — '...', "...",
 * $'...' (escapes decoded), backslashes — so `echo "a && b"` is one command and `r''m` is rm;
 * a here-document given to another program is data. Rules then look at each simple command's
 * program and arguments, never at a prefix of the raw text.
 */

export interface Redirect {
  op: string;
  target: string;
  /** The text of a here-document (`<<EOF ... EOF`). */
  body?: string;
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
  /**
   * Set when another command runs this one over many files: `find` (-exec, -delete) on every
   * file under its roots (`filtered` when tests such as -name select only some), `xargs` with
   * arguments read from its input.
   */
  runBy?: { program: "find"; filtered: boolean } | { program: "xargs" };
}

export interface ShellAnalysis {
  commands: SimpleCommand[];
  /** Constructs that cannot be analysed statically (e.g. `eval $VAR`, `bash -c "$X"`). */
  opaque: string[];
  /** A function that calls itself in the background through a pipe: `:(){ :|:& };:`. */
  forkBomb: boolean;
}

type Token = { kind: "word"; value: string; raw: string; heredoc?: string } | { kind: "op"; value: string };

const OPERATORS = ["&&", "||", ";;", "|&", ";", "|", "&", "(", ")", "\n"];
const REDIRECT = /^(\d*|&)(>>|>\||>&|<&|<<<|<<-?|<>|>|<)$/;
/** Wrapper options that take the next word as their argument. */
const OPTION_ARGUMENTS: Record<string, RegExp> = {
  sudo: /^(-[A-Za-z]*[ugpCDhrtTU]|--(user|group|prompt|chdir|host|role|type|other-user|close-from|command-timeout))$/,
  doas: /^-[A-Za-z]*[uC]$/,
  env: /^(-[A-Za-z]*[uC]|--(unset|chdir))$/,
  nice: /^(-n|--adjustment)$/,
  ionice: /^(-[cnpt]|--(class|classdata|pid|pgid|uid))$/,
  timeout: /^(-[sk]|--(signal|kill-after))$/,
  stdbuf: /^-[ioe]$/,
  watch: /^(-n|--interval)$/,
  exec: /^-a$/,
  chroot: /^--(userspec|groups)$/,
  time: /^(-[fo]|--(format|output))$/,
};
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

/** Reads a balanced `(...)` whose inside starts at `start`; returns the inside and the index after `)`. */
function readBalanced(text: string, start: number): { inner: string; end: number } {
  let depth = 1;
  let inner = "";
  let i = start;
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
    if (c === ")" && --depth === 0) return { inner, end: i + 1 };
    inner += c;
    i++;
  }
  return { inner, end: i };
}

/** The command lines a here-document with an unquoted delimiter runs: its `$(...)` and backticks. */
function substitutions(text: string): string[] {
  const found: string[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\\") i++;
    else if (c === "$" && text[i + 1] === "(" && text[i + 2] !== "(") {
      const { inner, end } = readBalanced(text, i + 2);
      found.push(inner);
      i = end - 1;
    } else if (c === "`") {
      const end = text.indexOf("`", i + 1);
      const stop = end < 0 ? text.length : end;
      found.push(text.slice(i + 1, stop));
      i = stop;
    }
  }
  return found;
}

const C_ESCAPES: Record<string, string> = {
  a: "\x07",
  b: "\b",
  e: "\x1b",
  E: "\x1b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
  "\\": "\\",
  "'": "'",
  '"': '"',
  "?": "?",
};

/** Decodes ANSI-C quoting `$'...'` whose inside starts at `start`; returns the text and the index after `'`. */
function readAnsiC(text: string, start: number): { value: string; end: number } {
  let value = "";
  let i = start;
  while (i < text.length && text[i] !== "'") {
    const c = text[i] as string;
    if (c !== "\\") {
      value += c;
      i++;
      continue;
    }
    const rest = text.slice(i + 1);
    const escaped = C_ESCAPES[rest[0] ?? ""];
    const code =
      /^x([0-9a-fA-F]{1,2})/.exec(rest) ??
      /^u([0-9a-fA-F]{1,4})/.exec(rest) ??
      /^U([0-9a-fA-F]{1,8})/.exec(rest);
    const octal = /^[0-7]{1,3}/.exec(rest);
    if (escaped !== undefined) {
      value += escaped;
      i += 2;
    } else if (code) {
      value += String.fromCodePoint(Math.min(Number.parseInt(code[1] as string, 16), 0x10ffff));
      i += 1 + code[0].length;
    } else if (octal) {
      value += String.fromCharCode(Number.parseInt(octal[0], 8) & 0xff);
      i += 1 + octal[0].length;
    } else if (rest[0] === "c" && rest.length > 1) {
      value += String.fromCharCode((rest.charCodeAt(1) as number) & 0x1f);
      i += 3;
    } else {
      value += c + (rest[0] ?? "");
      i += 2;
    }
  }
  return { value, end: i + 1 };
}

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
  const readBalancedHere = (): string => {
    const { inner, end } = readBalanced(text, i);
    i = end;
    return inner;
  };
  /** Here-documents whose text starts after the next newline: the index of their delimiter token. */
  const pendingHeredocs: { token: number; stripTabs: boolean }[] = [];
  const readHeredocs = () => {
    for (const { token, stripTabs } of pendingHeredocs.splice(0)) {
      const lines: string[] = [];
      const delimiter = tokens[token];
      while (i < text.length) {
        const eol = text.indexOf("\n", i);
        const stop = eol < 0 ? text.length : eol;
        const line = stripTabs ? text.slice(i, stop).replace(/^\t+/, "") : text.slice(i, stop);
        i = stop + 1;
        if (delimiter?.kind === "word" && line === delimiter.value) break;
        lines.push(line);
      }
      if (delimiter?.kind !== "word") continue;
      delimiter.heredoc = lines.join("\n");
      // with an unquoted delimiter, $(...) and backticks in the text run
      if (!/['"\\]/.test(delimiter.raw)) nested.push(...substitutions(delimiter.heredoc));
    }
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
          const inner = readBalancedHere();
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
      const inner = readBalancedHere();
      if (!arithmetic) nested.push(inner);
      word += `$(${inner})`;
      raw += `$(${inner})`;
      inWord = true;
      continue;
    }
    if ((c === "<" || c === ">") && text[i + 1] === "(") {
      flush();
      i += 2;
      nested.push(readBalancedHere());
      continue;
    }
    if (c === "$" && text[i + 1] === "'") {
      // ANSI-C quoting: $'\x72\x6d' is rm
      const { value, end } = readAnsiC(text, i + 2);
      word += value;
      raw += text.slice(i, end);
      inWord = true;
      i = end;
      continue;
    }
    if (c === "$" && text[i + 1] === '"') {
      // $"..." (translated string) quotes like "..."
      i++;
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
      if (op === "<<" || op === "<<-")
        pendingHeredocs.push({ token: tokens.length, stripTabs: op === "<<-" });
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
      if (operator === "\n") readHeredocs();
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
          current.redirects.push({
            op: t.value,
            target: target.value,
            ...(target.heredoc === undefined ? {} : { body: target.heredoc }),
          });
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
    if (program === "su") {
      // su [options] [user] -c 'script': the user may come before -c
      const c = words.findIndex((w, j) => j >= i && /^(-c|--command)$/.test(w));
      const inline = words.find((w, j) => j >= i && w.startsWith("--command="));
      if (c >= 0) return { argv: ["sh", "-c", ...words.slice(c + 1)], wrappers };
      if (inline) return { argv: ["sh", "-c", inline.slice("--command=".length)], wrappers };
      return { argv: [], wrappers }; // an interactive shell
    }
    // wrapper options, and their arguments where we know them
    while (i < words.length && (words[i] as string).startsWith("-")) {
      const option = words[i] as string;
      i++;
      if (option === "--") break;
      if (program === "env" && /^(-[A-Za-z]*S|--split-string)$/.test(option)) {
        // env -S 'cmd args': the string is split into a command line
        return { argv: ["sh", "-c", words.slice(i).join(" ")], wrappers };
      }
      if (OPTION_ARGUMENTS[program]?.test(option)) i++;
    }
    if (program === "timeout" && /^[\d.]/.test(words[i] ?? "")) i++; // the duration
    if (program === "chroot" && i < words.length) i++; // the new root
    if (program === "watch") return { argv: ["sh", "-c", words.slice(i).join(" ")], wrappers };
  }
  return { argv: words.slice(i), wrappers };
}

export function analyzeShell(command: string): ShellAnalysis {
  const analysis: ShellAnalysis = {
    commands: [],
    opaque: [],
    forkBomb:
      /(\S+)\s*\(\)\s*\{[^}]*\1\s*\|\s*\1\s*&/.test(command) ||
      /\bfunction\s+(\S+)\s*(\(\)\s*)?\{[^}]*\1\s*\|\s*\1\s*&/.test(command),
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
    // a here-document or here-string given to a shell is its script
    if (SHELLS.has(basename(argv[0] ?? "")) && !argv.some((a, i) => i > 0 && /^-[a-z]*c[a-z]*$/.test(a))) {
      for (const r of redirects) if (/<<[-<]?$/.test(r.op)) visit(r.body ?? r.target, analysis, depth + 1);
    }
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
      if (/^-[IdEeLnPsa]$/.test(argv[i] as string)) i++;
      i++;
    }
    const rest = argv.slice(i);
    if (rest.length > 0) pushDerived(rest, analysis, depth, { program: "xargs" });
    return;
  }
  if (program === "find") {
    const roots = findRoots(argv);
    const runBy = { program: "find" as const, filtered: argv.some((a) => FIND_TESTS.test(a)) };
    for (let i = 1; i < argv.length; i++) {
      if (argv[i] === "-exec" || argv[i] === "-execdir" || argv[i] === "-ok" || argv[i] === "-okdir") {
        const end = argv.findIndex((a, j) => j > i && (a === ";" || a === "+" || a === "\\;"));
        const command = argv.slice(i + 1, end < 0 ? undefined : end);
        // {} stands for each file found, the roots included
        for (const root of roots) {
          pushDerived(
            command.map((a) => a.replaceAll("{}", root)),
            analysis,
            depth,
            runBy,
          );
        }
      }
      if (argv[i] === "-delete")
        analysis.commands.push({
          argv: ["rm", "-r", ...roots],
          redirects: [],
          pipedInput: false,
          wrappers: ["find -delete"],
          runBy,
        });
    }
  }
}

/** find's tests that select some files by name, time, size or owner (-type alone selects too much). */
const FIND_TESTS =
  /^-(i?name|i?path|i?wholename|i?regex|i?lname|newer\w*|[acm](time|min)|size|empty|user|group|uid|gid|nouser|nogroup|perm|links|inum|samefile)$/;

function findRoots(argv: string[]): string[] {
  const roots: string[] = [];
  let i = 1;
  // leading options: -H -L -P -D debugopts -Olevel
  while (i < argv.length && /^-([HLP]|D|O\d*)$/.test(argv[i] as string)) i += argv[i] === "-D" ? 2 : 1;
  for (; i < argv.length && !/^[-(!]/.test(argv[i] as string); i++) roots.push(argv[i] as string);
  return roots.length ? roots : ["."];
}

function pushDerived(
  argv: string[],
  analysis: ShellAnalysis,
  depth: number,
  runBy: SimpleCommand["runBy"],
): void {
  const { argv: inner, wrappers } = unwrap(argv);
  if (inner.length === 0) return;
  analysis.commands.push({ argv: inner, redirects: [], pipedInput: false, wrappers, runBy });
  expandInner(inner, analysis, depth + 1);
}
