import { inlineCode, scanCode, splicedCode } from "./interpreters.js";

/**
 * Shell command analysis for the pre-tool policy: a command line is split into the simple
 * commands it would run — across `&&`, `||`, `;`, `|`, `&`, newlines, subshells, `$(...)`,
 * backticks and process substitution — and the commands hidden inside `bash -c '...'`,
 * `eval ...`, `su -c`, `script -c`, `env -S`, `watch`, `trap`, `alias`, `xargs cmd` and
 * `parallel cmd` (with their arguments when `:::` lists them, or an `echo`, `printf`, `find`,
 * `ls` or a here-string feeds them), `find -exec cmd` (with `{}` replaced by find's roots),
 * here-documents given to a shell, interpreter one-liners' shell-outs (interpreters.ts),
 * multi-call binaries (`busybox rm` is rm), the wrappers that run their arguments (`sudo`,
 * `env`, `flock LOCK`, `chroot DIR`, ...: WRAPPERS, with their options' values) and `ssh host
 * cmd` (run in the home directory there) are analysed too.
 * Quoting is honoured — '...', "...", $'...' (escapes decoded), backslashes — so
 * `echo "a && b"` is one command and `r''m` is rm; unquoted braces expand (`/{etc,usr}` is
 * /etc /usr); a here-document given to another program is data. Variables assigned in the
 * line (`X=/`, `export`, `for x in ...`, `unset`) are substituted where they are used, every
 * value a variable may have (a loop's, a branch's) is judged, and one never assigned stays
 * `$X`: unknown. A `cd` in the same shell moves the commands after it (SimpleCommand.cwd).
 * Rules then look at each simple command's program and arguments, never at a prefix of the
 * raw text.
 */

interface Redirect {
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
  /** The command whose output this one reads (`that | this`). */
  pipedFrom?: SimpleCommand;
  /** Its words that are process substitutions (`<(cmd)`, as written), with the commands they run. */
  processes?: Map<string, SimpleCommand[]>;
  /**
   * The directory it runs in when the line moved (`cd /usr && ...`): absolute, in the home
   * directory (`~`, `~/x`), relative to the session's (`cd build`), or unknown (`cd "$DIR"`).
   * Unset: the session's directory.
   */
  cwd?: string;
}

export interface ShellAnalysis {
  commands: SimpleCommand[];
  /**
   * Constructs that cannot be analysed statically: `eval $VAR`, `bash -c "$X"`, a program
   * named by a variable or a substitution, an interpreter's shell-out built at run time,
   * interpreter code the shell splices in from a substitution or an unknown variable.
   */
  opaque: string[];
  /** Interpreter code that evaluates what it downloads (`exec(urlopen(...).read())`). */
  runsDownload: string[];
  /** A function that calls itself in the background through a pipe: `:(){ :|:& };:`. */
  forkBomb: boolean;
}

interface WordToken {
  kind: "word";
  /** The word after quote removal, its parameter expansions marked (see ref). */
  value: string;
  raw: string;
  heredoc?: string;
  /** Command lines in the word that run before it: `$(...)`, backticks, a here-document's. */
  nested?: string[];
  /** A process substitution `<(...)` (`>(...)`: output) — the word names the file it reads or fills. */
  process?: { text: string; output: boolean };
}
type Token = WordToken | { kind: "op"; value: string };

/**
 * A parameter expansion (`$NAME`, `${NAME}`) inside a word's value is marked with two characters
 * of Unicode's private use area (which the input cannot contain: see analyzeShell), and
 * resolved when its command is reached, with the values assigned before it in the line.
 */
const REF_START = "\uE000";
const REF_END = "\uE001";
const REF = /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/y;
const MARKED_REF = /\uE000([qu])(\{?)([A-Za-z_][A-Za-z0-9_]*)\uE001/g;
/** Unquoted `{`, `,` and `}` of a word, marked until it is complete: they may expand (expandBraces). */
const BRACE_OPEN = "\uE002";
const BRACE_COMMA = "\uE003";
const BRACE_CLOSE = "\uE004";
const BRACE_MARKS = /[\uE002-\uE004]/g;
const PRIVATE = /[\uE000-\uE004]/g;

/** `$NAME` or `${NAME}` at `i`: its mark and the index after it, or null. */
function readRef(text: string, i: number, quoted: boolean): { mark: string; end: number } | null {
  REF.lastIndex = i;
  const m = REF.exec(text);
  if (!m) return null;
  const braced = m[1] !== undefined;
  return {
    mark: `${REF_START}${quoted ? "q" : "u"}${braced ? "{" : ""}${m[1] ?? m[2]}${REF_END}`,
    end: REF.lastIndex,
  };
}

const OPERATORS = ["&&", "||", ";;", "|&", ";", "|", "&", "(", ")", "\n"];
const REDIRECT = /^(\d*|&)(>>|>\||>&|<&|<<<|<<-?|<>|>|<)$/;
/** How a wrapper runs the command it is given (`sudo rm ...`, `flock LOCK rm ...`, `ssh host 'rm ...'`). */
interface Wrapper {
  /** Its options that take the next word as their value. */
  valued?: RegExp;
  /** Its options whose value (with the words after it) is a command line for a shell (`su -c`). */
  script?: RegExp;
  /** An option after which no command follows (`taskset -p MASK PID`). */
  noCommand?: RegExp;
  /** Its operands before the command: a lock file, a new root, a duration, a host. */
  operands?: number;
  /** Options may follow its operands (`ssh host -p 22 cmd`, `su user -c cmd`). */
  interleaved?: boolean;
  /** Its operands are no command: it runs one only through its script option (su). */
  scriptOnly?: boolean;
  /** The words of its command are one command line for a shell (`watch`, `ssh`). */
  joined?: boolean;
  /** The command runs on another machine, in the home directory there (ssh). */
  remote?: boolean;
}

const WRAPPERS = new Map<string, Wrapper>(
  Object.entries({
    // multi-call binaries: see unwrap
    busybox: {},
    toybox: {},
    coreutils: {},
    sudo: {
      valued:
        /^(-[A-Za-z]*[ugpCDhrtTU]|--(user|group|prompt|chdir|host|role|type|other-user|close-from|command-timeout))$/,
    },
    doas: { valued: /^-[A-Za-z]*[uC]$/ },
    pkexec: { valued: /^--user$/ },
    su: {
      valued: /^(-[sgGw]|--(shell|group|supp-group|whitelist-environment))$/,
      script: /^(-c|--command|--session-command)$/,
      operands: 1,
      interleaved: true,
      scriptOnly: true,
    },
    env: { valued: /^(-[A-Za-z]*[uC]|--(unset|chdir))$/, script: /^(-[A-Za-z]*S|--split-string)$/ },
    nohup: {},
    setsid: {},
    unbuffer: {},
    command: {},
    builtin: {},
    exec: { valued: /^-a$/ },
    time: { valued: /^(-[fo]|--(format|output))$/ },
    nice: { valued: /^(-n|--adjustment)$/ },
    ionice: { valued: /^(-[cnpPu]|--(class|classdata|pid|pgid|uid))$/ },
    chrt: {
      valued: /^(-[A-Za-z]*[TPD]|--sched-(runtime|period|deadline))$/,
      noCommand: /^(-[abdfiorRv]*p[abdfiorRv]*|--pid|-m|--max)$/,
      operands: 1, // the priority
    },
    taskset: { noCommand: /^(-[ac]*p[ac]*|--pid)$/, operands: 1 }, // the CPU mask
    stdbuf: { valued: /^-[ioe]$/ },
    timeout: { valued: /^(-[sk]|--(signal|kill-after))$/, operands: 1 }, // the duration
    watch: { valued: /^(-n|--interval)$/, joined: true },
    chroot: { valued: /^--(userspec|groups)$/, operands: 1 }, // the new root
    unshare: {
      valued:
        /^(-[A-Za-z]*[SGRw]|--(setuid|setgid|root|wd|map-user|map-group|map-users|map-groups|propagation|setgroups))$/,
    },
    nsenter: { valued: /^(-[aFZce]*[tSG]|--(target|setuid|setgid))$/ },
    fakeroot: { valued: /^(-[lisb]|--(lib|faked|fd-base))$/ },
    flock: {
      valued: /^(-[sexnouF]*[wE]|--(wait|timeout|conflict-exit-code))$/,
      script: /^(-c|--command)$/,
      operands: 1, // the lock file; `flock 9` locks a descriptor and runs nothing
      interleaved: true,
    },
    // script -c CMD [file]; BSD's script runs the command after its file
    script: {
      valued: /^(-[aefqt]*[EIOBTmo]|--(echo|log-in|log-out|log-io|log-timing|logging-format|output-limit))$/,
      script: /^(-[aefqt]*c|--command)$/,
      operands: 1,
    },
    // ssh [options] host [options] [command words]: a command line the remote shell runs
    ssh: {
      valued: /^-[46AaCfGgKkMNnqsTtVvXxYy]*[BbcDEeFIiJLlmOoPpRSWw]$/,
      operands: 1,
      interleaved: true,
      joined: true,
      remote: true,
    },
    sshpass: { valued: /^-[fdpP]$/ },
  } satisfies Record<string, Wrapper>),
);
export const SHELLS = new Set(["sh", "bash", "zsh", "dash", "ksh", "fish", "ash"]);
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
  return { value: value.replace(PRIVATE, "\uFFFD"), end: i + 1 };
}

/**
 * Splits text into words and operators. Inside words, quotes are removed, parameter
 * expansions marked, and `$(...)` and backticks collected as the word's nested command lines;
 * a process substitution `<(...)` is a word of its own.
 */
function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let word = "";
  let raw = "";
  let inWord = false;
  /** The word holds an unquoted `{` (marked, with the `,` and `}` after it). */
  let braces = false;
  let nested: string[] = [];
  const flush = () => {
    if (inWord) {
      const values = braces ? expandBraces(word) : [word];
      for (const value of values) {
        const token: WordToken = { kind: "word", value, raw };
        if (nested.length > 0) {
          // the substitutions run once, whatever the braces make of their word
          token.nested = nested;
          nested = [];
        }
        tokens.push(token);
      }
    }
    word = "";
    raw = "";
    inWord = false;
    braces = false;
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
      if (!/['"\\]/.test(delimiter.raw)) {
        const runs = substitutions(delimiter.heredoc);
        if (runs.length) delimiter.nested = [...(delimiter.nested ?? []), ...runs];
      }
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
        } else if (d === "$" && readRef(text, i, true)) {
          const { mark, end } = readRef(text, i, true) as { mark: string; end: number };
          word += mark;
          raw += text.slice(i, end);
          i = end;
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
      const inner = readBalancedHere();
      const value = `${c}(${inner})`;
      tokens.push({ kind: "word", value, raw: value, process: { text: inner, output: c === ">" } });
      continue;
    }
    if (c === "$") {
      const ref = readRef(text, i, false);
      if (ref) {
        word += ref.mark;
        raw += text.slice(i, ref.end);
        inWord = true;
        i = ref.end;
        continue;
      }
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
      if (c === "{" && text[i - 1] !== "$") braces = true;
    }
    // unquoted braces may expand: /{etc,usr} is /etc /usr (`${` is a parameter's)
    if (braces && (c === "{" || c === "," || c === "}")) {
      word += c === "{" ? BRACE_OPEN : c === "," ? BRACE_COMMA : BRACE_CLOSE;
    } else word += c;
    raw += c;
    inWord = true;
    i++;
  }
  flush();
  return tokens;
}

/** The most words one word's braces expand to; past it the word is left as written. */
const MAX_BRACE_WORDS = 64;

/**
 * Brace expansion of a word whose unquoted braces are marked, as bash does it: `a{b,c}d` is
 * abd acd, `{1..3}` and `{a..c}` are sequences, braces nest, `{x}` and `{}` stay as they are.
 * An assignment's value does not expand.
 */
function expandBraces(word: string): string[] {
  // each `{` is matched by a scan to its `}`: a word with too many is left as written
  let opens = 0;
  for (
    let i = word.indexOf(BRACE_OPEN);
    i >= 0 && opens <= MAX_BRACE_WORDS;
    i = word.indexOf(BRACE_OPEN, i + 1)
  )
    opens++;
  const expands = opens <= MAX_BRACE_WORDS && !ASSIGNMENT.test(word);
  const words = expands ? braceWords(word, { left: MAX_BRACE_WORDS }) : null;
  return (words ?? [word]).map((w) =>
    w.replace(BRACE_MARKS, (m) => (m === BRACE_OPEN ? "{" : m === BRACE_COMMA ? "," : "}")),
  );
}

/** The words `word` expands to, or null past the budget of words (shared across the recursion). */
function braceWords(word: string, budget: { left: number }): string[] | null {
  for (let open = word.indexOf(BRACE_OPEN); open >= 0; open = word.indexOf(BRACE_OPEN, open + 1)) {
    let depth = 0;
    let close = -1;
    const commas: number[] = [];
    for (let j = open + 1; j < word.length && close < 0; j++) {
      const c = word[j];
      if (c === BRACE_OPEN) depth++;
      else if (c === BRACE_CLOSE && depth-- === 0) close = j;
      else if (c === BRACE_COMMA && depth === 0) commas.push(j);
    }
    if (close < 0) continue;
    const inner = word.slice(open + 1, close);
    const alternatives =
      commas.length > 0
        ? [open, ...commas].map((start, k) => word.slice(start + 1, commas[k] ?? close))
        : sequence(inner);
    if (alternatives === null) continue;
    const before = word.slice(0, open);
    const after = word.slice(close + 1);
    const words: string[] = [];
    for (const alternative of alternatives) {
      const expanded = braceWords(before + alternative + after, budget);
      if (expanded === null) return null;
      words.push(...expanded);
    }
    return words;
  }
  // a word that expands no further: one of the budget's
  return --budget.left < 0 ? null : [word];
}

/** `1..5`, `10..1..3`, `a..e`: the sequence's items, or null (too long, or not a sequence). */
function sequence(inner: string): string[] | null {
  const m = /^(-?\d+|[A-Za-z])\.\.(-?\d+|[A-Za-z])(?:\.\.(-?\d+))?$/.exec(inner);
  if (!m) return null;
  const [, from, to, by] = m as unknown as [string, string, string, string | undefined];
  const numeric = /\d/.test(from);
  if (numeric !== /\d/.test(to)) return null;
  const a = numeric ? Number(from) : from.charCodeAt(0);
  const b = numeric ? Number(to) : to.charCodeAt(0);
  const step = Math.abs(Number(by ?? 1)) || 1;
  if (Math.abs(b - a) / step >= MAX_BRACE_WORDS) return null;
  const items: string[] = [];
  for (let v = a; a <= b ? v <= b : v >= b; v += a <= b ? step : -step) {
    items.push(numeric ? String(v) : String.fromCharCode(v));
  }
  return items;
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

/** One simple command as written: its words and redirections (targets not yet expanded). */
interface Unit {
  words: WordToken[];
  redirects: { op: string; target: WordToken }[];
  piped: boolean;
  /** It runs in a subshell of its own: a command of a pipeline, or one sent to the background. */
  own: boolean;
  /** Subshells `(` that open before it, and `)` that close after it. */
  opens: number;
  closes: number;
}

function splitCommands(tokens: Token[]): Unit[] {
  const out: Unit[] = [];
  const unit = (piped: boolean): Unit => ({
    words: [],
    redirects: [],
    piped,
    own: piped,
    opens: 0,
    closes: 0,
  });
  let current = unit(false);
  let opens = 0;
  const finish = (nextPiped: boolean, own = false) => {
    if (current.words.length > 0 || current.redirects.length > 0) {
      current.opens = opens;
      current.own ||= own;
      opens = 0;
      out.push(current);
    }
    current = unit(nextPiped);
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    if (t.kind === "op") {
      if (t.value === "|" || t.value === "|&") finish(true, true);
      else if (t.value === "&") finish(false, true);
      else if (t.value === "(") {
        finish(false);
        opens++;
      } else if (t.value === ")") {
        finish(false);
        // `()` of a function, or `)` of a case pattern: nothing to close
        const last = out[out.length - 1];
        if (opens > 0) opens--;
        else if (last) last.closes++;
      } else if (SEPARATORS.has(t.value)) finish(false);
      else if (REDIRECT.test(t.value)) {
        const target = tokens[i + 1];
        if (target?.kind === "word") {
          current.redirects.push({ op: t.value, target });
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

const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)(\+?)=/;

interface Unwrapped {
  argv: string[];
  wrappers: string[];
  assignments: string[];
  /** The command runs on another machine (ssh). */
  remote?: boolean;
}

/** Drops assignments (`A=1`, returned apart), control words and wrappers in front of the program. */
function unwrap(words: string[]): Unwrapped {
  const wrappers: string[] = [];
  const assignments: string[] = [];
  let i = 0;
  for (;;) {
    while (i < words.length) {
      const word = words[i] as string;
      if (ASSIGNMENT.test(word)) assignments.push(word);
      else if (!CONTROL_WORDS.has(word)) break;
      i++;
    }
    const program = basename(words[i] ?? "");
    const wrapper = WRAPPERS.get(program);
    if (wrapper === undefined) break;
    wrappers.push(program);
    i++;
    if (program === "busybox" || program === "toybox") {
      // a multi-call binary runs the applet named next; an option (`busybox --list`) is its own
      if ((words[i] ?? "-").startsWith("-")) return { argv: words.slice(i - 1), wrappers, assignments };
      continue;
    }
    if (program === "coreutils") {
      // GNU's multi-call coreutils: `coreutils --coreutils-prog=rm -rf /`
      const named = /^--coreutils-prog=(.+)$/.exec(words[i] ?? "");
      if (!named) return { argv: words.slice(i - 1), wrappers, assignments };
      words = [named[1] as string, ...words.slice(i + 1)];
      i = 0;
      continue;
    }
    // its options (and their values where we know them) and operands
    const remote = wrapper.remote;
    let operands = wrapper.operands ?? 0;
    let options = true;
    for (;;) {
      while (options && i < words.length && (words[i] as string).startsWith("-")) {
        const option = words[i] as string;
        i++;
        if (option === "--") {
          options = false;
          break;
        }
        const eq = option.startsWith("--") ? option.indexOf("=") : -1;
        if (wrapper.script?.test(eq < 0 ? option : option.slice(0, eq))) {
          const line = [...(eq < 0 ? [] : [option.slice(eq + 1)]), ...words.slice(i)].join(" ");
          return { argv: ["sh", "-c", line], wrappers, assignments, remote };
        }
        if (wrapper.noCommand?.test(option)) return { argv: [], wrappers, assignments };
        if (wrapper.valued?.test(option)) i++;
      }
      if (operands === 0 || i >= words.length) break;
      operands--;
      i++;
      if (!wrapper.interleaved) break;
    }
    // su without -c, ssh without a command: an interactive shell, which runs nothing yet
    if (wrapper.scriptOnly || (wrapper.joined && i >= words.length))
      return { argv: [], wrappers, assignments };
    if (wrapper.joined)
      return { argv: ["sh", "-c", words.slice(i).join(" ")], wrappers, assignments, remote };
  }
  return { argv: words.slice(i), wrappers, assignments };
}

/**
 * Does the word still hold an expansion that could not be resolved — a variable never assigned
 * in the line (`$X`, `${X:-y}`, `$1`), a command substitution, backticks? `$HOME` is known (~).
 */
export function isUnresolved(word: string): boolean {
  if (!word.includes("$") && !word.includes("`")) return false;
  return /\$[{(A-Za-z_0-9@*#?!$-]|`/.test(word.replace(/^(\$HOME|\$\{HOME\})(?=\/|$)/, "~"));
}

/** One analysis: what it found, and every value each variable was given so far in the line. */
interface Walk {
  analysis: ShellAnalysis;
  /** The values a variable may have ("$X" where it may be unknown). */
  vars: Map<string, string[]>;
  /** MAX_COMMANDS was reached: the rest of the line is not analysed. */
  exhausted?: boolean;
  /** The directory the commands run in when a `cd` moved the shell (SimpleCommand.cwd). */
  cwd?: string;
}

/** Has the line used up its budget? The first time, what is left unanalysed is opaque. */
function exhausted(walk: Walk, text: string): boolean {
  if (walk.exhausted) return true;
  if (walk.analysis.commands.length < MAX_COMMANDS) return false;
  walk.exhausted = true;
  walk.analysis.opaque.push(`too many commands to check: ${text.slice(0, 80)}`);
  return true;
}

/** More values than this and a variable counts as unknown; more combinations than that, too. */
const MAX_VALUES = 8;
const MAX_VARIANTS = 16;
/**
 * The most simple commands one line is analysed into: variants and nested scripts multiply
 * (`S='bash -c "$S $a"'` in a loop), and the engine runs on every tool call. Past it, the
 * rest of the line is opaque.
 */
const MAX_COMMANDS = 1000;
/** `$(mktemp)`, `$(mktemp -d)`: a fresh file or directory in /tmp. */
const MKTEMP = /^\$\(\s*mktemp(\s+-[dqu]+)*\s*\)$/;

export function analyzeShell(command: string): ShellAnalysis {
  const analysis: ShellAnalysis = {
    commands: [],
    opaque: [],
    runsDownload: [],
    // the patterns backtrack over long lines: tried only where a function could be defined
    forkBomb:
      (command.includes("()") && /(\S+)\s*\(\)\s*\{[^}]*\1\s*\|\s*\1\s*&/.test(command)) ||
      (command.includes("function") &&
        /\bfunction\s+(\S+)\s*(\(\)\s*)?\{[^}]*\1\s*\|\s*\1\s*&/.test(command)),
  };
  visit(command.replace(PRIVATE, "\uFFFD"), { analysis, vars: new Map() }, 0);
  return analysis;
}

/**
 * Analyses a command line (a script; `inputPiped`: its first command reads a pipe). It runs
 * in a shell of its own unless `sameShell` (eval): a `cd` in it ends with it.
 */
function visit(text: string, walk: Walk, depth: number, inputPiped = false, sameShell = false): void {
  const { analysis } = walk;
  if (depth > MAX_DEPTH) {
    analysis.opaque.push(text);
    return;
  }
  if (exhausted(walk, text)) return;
  let previous: SimpleCommand | undefined;
  const units = splitCommands(tokenize(text));
  const cwd = walk.cwd;
  /** The directory before each subshell that is open. */
  let subshells: (string | undefined)[] | undefined;
  for (let index = 0; index < units.length; index++) {
    const unit = units[index] as Unit;
    if (unit.opens > 0) {
      subshells ??= [];
      for (let k = 0; k < unit.opens; k++) subshells.push(walk.cwd);
    }
    const before = walk.cwd;
    const tokens =
      unit.redirects.length === 0 ? unit.words : [...unit.words, ...unit.redirects.map((r) => r.target)];
    // command substitutions run before their command
    for (const t of tokens) for (const inner of t.nested ?? []) visit(inner, walk, depth + 1);
    let processes: Map<string, SimpleCommand[]> | undefined;
    for (const t of tokens) {
      if (t.process) {
        // the commands the substitution runs, nested ones included
        const start = analysis.commands.length;
        visit(t.process.text, walk, depth + 1, t.process.output);
        processes ??= new Map();
        processes.set(t.value, analysis.commands.slice(start));
      }
    }
    let last: SimpleCommand | undefined;
    for (const values of bindings(tokens, walk.vars)) {
      const words: string[] = [];
      for (const { value } of unit.words) {
        // an assignment's value is not split into words
        if (value.includes(REF_START)) words.push(...expand(value, values, !ASSIGNMENT.test(value)));
        else words.push(value);
      }
      const redirects = unit.redirects.map(({ op, target }) => {
        const r: Redirect = { op, target: expand(target.value, values, false)[0] ?? "" };
        if (target.heredoc !== undefined) r.body = target.heredoc;
        return r;
      });
      const from = unit.piped ? previous : undefined;
      last =
        run(
          words,
          redirects,
          { piped: unit.piped || (inputPiped && index === 0), from, processes, tokens, values },
          walk,
          depth,
        ) ?? last;
    }
    previous = last;
    if (unit.own) walk.cwd = before;
    for (let k = 0; k < unit.closes && subshells?.length; k++) walk.cwd = subshells.pop();
  }
  if (!sameShell) walk.cwd = cwd;
}

const NO_BINDINGS: Map<string, string>[] = [new Map()];

/** One map of values per combination of the values the variables used in `tokens` may have. */
function bindings(tokens: WordToken[], vars: Map<string, string[]>): Map<string, string>[] {
  if (!tokens.some((t) => t.value.includes(REF_START))) return NO_BINDINGS;
  const names = new Set<string>();
  for (const t of tokens) for (const m of t.value.matchAll(MARKED_REF)) names.add(m[3] as string);
  let combinations: Map<string, string>[] = [new Map()];
  for (const name of names) {
    const possible = vars.get(name);
    // too many combinations: the variable is left unknown
    if (!possible || combinations.length * possible.length > MAX_VARIANTS) continue;
    combinations = combinations.flatMap((c) => possible.map((v) => new Map(c).set(name, v)));
  }
  return combinations;
}

/**
 * The words a value becomes with its variables replaced (unknown ones are written back as
 * `$X`): an unquoted expansion is split into words (`split`), and vanishes when empty.
 */
function expand(value: string, values: Map<string, string>, split: boolean): string[] {
  if (!value.includes(REF_START)) return [value];
  const words: string[] = [];
  let current = "";
  let started = false;
  let last = 0;
  const add = (text: string) => {
    current += text;
    started = true;
  };
  for (const m of value.matchAll(MARKED_REF)) {
    if (m.index > last) add(value.slice(last, m.index));
    last = m.index + m[0].length;
    const [, quoting, brace, name] = m as unknown as [string, string, string, string];
    const v = values.get(name);
    if (v === undefined) add(brace ? `\${${name}}` : `$${name}`);
    else if (quoting === "q" || !split) add(v);
    else {
      const [first, ...more] = v.split(/[ \t\n]+/) as [string, ...string[]];
      current += first;
      started ||= first !== "";
      for (const piece of more) {
        if (started) words.push(current);
        current = piece;
        started = piece !== "";
      }
    }
  }
  if (last < value.length) add(value.slice(last));
  if (started) words.push(current);
  return words;
}

/** Records a value a variable may have from now on. */
function assign(vars: Map<string, string[]>, name: string, value: string): void {
  const v = MKTEMP.test(value) ? "/tmp/tmp.XXXXXXXXXX" : value;
  const possible = vars.get(name) ?? [];
  if (!possible.includes(v)) possible.push(v);
  vars.set(name, possible.length > MAX_VALUES ? [`$${name}`] : possible);
}

function assignWord(vars: Map<string, string[]>, word: string): void {
  const m = ASSIGNMENT.exec(word);
  if (!m) return;
  const [whole, name, append] = m as unknown as [string, string, string];
  const value = word.slice(whole.length);
  for (const before of append ? (vars.get(name) ?? [`$${name}`]) : [""]) assign(vars, name, before + value);
}

/** Builtins that give variables values: export/declare/..., unset, read, for. */
function assignments(argv: string[], vars: Map<string, string[]>): void {
  const program = argv[0] ?? "";
  const args = argv.slice(1);
  if (["export", "declare", "typeset", "local", "readonly"].includes(program)) {
    for (const a of args) assignWord(vars, a);
  } else if (program === "unset") {
    for (const a of args) if (!a.startsWith("-")) assign(vars, a, "");
  } else if (program === "read" || program === "mapfile" || program === "readarray") {
    // the values come from input: unknown
    const names = args.filter(
      (a, i) => /^[A-Za-z_]\w*$/.test(a) && !/^-[adinNptuCcs]$/.test(args[i - 1] ?? ""),
    );
    const array = args.indexOf("-a");
    if (array >= 0 && args[array + 1]) names.push(args[array + 1] as string);
    for (const name of names.length ? names : [program === "read" ? "REPLY" : "MAPFILE"]) {
      assign(vars, name, `$${name}`);
    }
  }
}

/** A command's words as written, and the values its variables took: what its expansions were. */
interface Written {
  tokens: WordToken[];
  values: Map<string, string>;
}

interface Input extends Written {
  piped: boolean;
  from: SimpleCommand | undefined;
  processes: Map<string, SimpleCommand[]> | undefined;
}

/**
 * What the shell splices into a command's words that nobody can read before it runs: the
 * output of its command substitutions, variables the line never assigns (written back as
 * `$X`), and values that are themselves a substitution's output (`X=$(curl ...)`).
 */
function unknownParts({ tokens, values }: Written): string[] {
  const parts: string[] = [];
  for (const t of tokens) {
    for (const inner of t.nested ?? []) parts.push(`$(${inner})`, `\`${inner}\``);
    if (!t.value.includes(REF_START)) continue;
    for (const m of t.value.matchAll(MARKED_REF)) {
      const [, , brace, name] = m as unknown as [string, string, string, string];
      const v = values.get(name);
      if (v === undefined) parts.push(brace ? `\${${name}}` : `$${name}`);
      else if (v.includes("$(") || v.includes("`")) parts.push(v);
    }
  }
  return parts;
}

/** Records one simple command (its words expanded) and what it runs in turn. */
function run(
  words: string[],
  redirects: Redirect[],
  input: Input,
  walk: Walk,
  depth: number,
): SimpleCommand | null {
  const { analysis, vars } = walk;
  if ((words[0] === "for" || words[0] === "select") && words[1] !== undefined) {
    // for x in a b c: x takes each value; without `in`, the script's arguments
    const name = words[1];
    const values = words[2] === "in" ? words.slice(3) : [`$${name}`];
    for (const v of values) assign(vars, name, v);
    return null;
  }
  const { argv, wrappers, assignments: assigned, remote } = unwrap(words);
  for (const a of assigned) assignWord(vars, a);
  if (argv.length === 0 && redirects.length === 0) return null;
  if (exhausted(walk, words.join(" "))) return null;
  const command: SimpleCommand = { argv, redirects, pipedInput: input.piped, wrappers };
  if (input.from) command.pipedFrom = input.from;
  if (input.processes) command.processes = input.processes;
  const cwd = walk.cwd;
  // ssh's command starts in the home directory of the other machine
  if (remote) walk.cwd = "~";
  if (walk.cwd !== undefined) command.cwd = walk.cwd;
  analysis.commands.push(command);
  if (argv[0] !== undefined && isUnresolved(argv[0])) analysis.opaque.push(argv.join(" "));
  assignments(argv, vars);
  if (argv[0] === "cd" || argv[0] === "pushd" || argv[0] === "popd")
    walk.cwd = changeDirectory(argv, walk.cwd);
  expandInner(command, walk, depth, input);
  // a here-document or here-string given to a shell is its script
  if (SHELLS.has(basename(argv[0] ?? "")) && !argv.some((a, i) => i > 0 && /^-[a-z]*c[a-z]*$/.test(a))) {
    for (const r of redirects) if (/<<[-<]?$/.test(r.op)) visit(r.body ?? r.target, walk, depth + 1);
  }
  if (remote) walk.cwd = cwd;
  return command;
}

/**
 * Where `cd`, `pushd` or `popd` moves from `current` (undefined: the session's directory):
 * `cd` alone goes home, `cd -` and `popd` to a directory this line cannot know, `cd
 * "$(mktemp -d)"` to a fresh one in /tmp; a relative
 * path is joined to the current one (resolved where it is judged: builtin-rules' located).
 */
function changeDirectory(argv: string[], current: string | undefined): string {
  if (argv[0] === "popd") return "$OLDPWD";
  let i = 1;
  while (/^-[LPe@]+$/.test(argv[i] ?? "")) i++;
  if (argv[i] === "--") i++;
  const target = argv[i];
  if (target === undefined) return "~";
  if (target === "-") return "$OLDPWD";
  if (MKTEMP.test(target)) return "/tmp/tmp.XXXXXXXXXX";
  if (current === undefined || /^[/~$]/.test(target) || isUnresolved(target)) return target;
  return `${current}/${target}`;
}

/** The text a here-document or here-string gives a command as its input. */
function stdinText(redirects: Redirect[]): string | undefined {
  const r = redirects.find((r) => /<<[-<]?$/.test(r.op));
  return r && (r.body ?? r.target);
}

/**
 * Commands that run other commands given as arguments, or as code. `written`: the words the
 * command (or the one that runs it: xargs, find) was written with.
 */
function expandInner(command: SimpleCommand, walk: Walk, depth: number, written: Written): void {
  const { argv } = command;
  const { analysis } = walk;
  const program = basename(argv[0] ?? "");
  if (SHELLS.has(program)) {
    const c = argv.findIndex((a, i) => i > 0 && /^-[a-z]*c[a-z]*$/.test(a));
    if (c > 0) {
      const script = argv[c + 1];
      // what the script leaves unresolved (`bash -c "$X"`) is found when it is analysed
      if (script === undefined) analysis.opaque.push(argv.join(" "));
      else visit(script, walk, depth + 1);
    }
    return;
  }
  if (program === "eval") {
    visit(argv.slice(1).join(" "), walk, depth + 1, false, true);
    return;
  }
  if (program === "trap") {
    // trap 'cmd' SIGNAL runs cmd later; `trap - INT` resets, `trap -p` prints
    const action = argv[1];
    if (action !== undefined && !action.startsWith("-")) visit(action, walk, depth + 1);
    return;
  }
  if (program === "alias") {
    for (const a of argv.slice(1))
      if (a.indexOf("=") > 0) visit(a.slice(a.indexOf("=") + 1), walk, depth + 1);
    return;
  }
  if (program === "xargs") {
    xargs(command, walk, depth, written);
    return;
  }
  if (program === "parallel") {
    parallel(command, walk, depth);
    return;
  }
  if (program === "find") {
    const roots = findRoots(argv);
    const runBy = { program: "find" as const, filtered: argv.some((a) => FIND_TESTS.test(a)) };
    for (let i = 1; i < argv.length; i++) {
      if (argv[i] === "-exec" || argv[i] === "-execdir" || argv[i] === "-ok" || argv[i] === "-okdir") {
        const end = argv.findIndex((a, j) => j > i && (a === ";" || a === "+" || a === "\\;"));
        const inner = argv.slice(i + 1, end < 0 ? undefined : end);
        // {} stands for each file found, the roots included
        for (const root of roots) {
          pushDerived(
            inner.map((a) => a.replaceAll("{}", root)),
            walk,
            depth,
            runBy,
            written,
          );
        }
      }
      if (argv[i] === "-delete") {
        const deletes: SimpleCommand = {
          argv: ["rm", "-r", ...roots],
          redirects: [],
          pipedInput: false,
          wrappers: ["find -delete"],
          runBy,
        };
        if (command.cwd !== undefined) deletes.cwd = command.cwd;
        analysis.commands.push(deletes);
      }
    }
    return;
  }
  const code = inlineCode(argv, stdinText(command.redirects));
  if (code) {
    // code the shell splices in from a substitution or an unknown variable cannot be read
    const spliced = splicedCode(code, unknownParts(written));
    if (spliced !== undefined) analysis.opaque.push(`${argv[0]} code from ${spliced}`);
    const scan = scanCode(code);
    for (const line of scan.lines) visit(line, walk, depth + 1);
    for (const line of scan.pipedLines) visit(line, walk, depth + 1, true);
    for (const inner of scan.argvs) pushDerived(inner, walk, depth, undefined, NOT_WRITTEN);
    analysis.opaque.push(...scan.opaque);
    if (scan.runsFetched) analysis.runsDownload.push(argv.join(" ").slice(0, 120));
  }
}

/** xargs runs its command with the words of its input, known when it is a here-string or comes from echo, printf, find or ls -d. */
function xargs(command: SimpleCommand, walk: Walk, depth: number, written: Written): void {
  const { argv } = command;
  let replace: string | undefined;
  let fromFile = false;
  let i = 1;
  while (i < argv.length && (argv[i] as string).startsWith("-")) {
    const a = argv[i] as string;
    i++;
    if (a === "--") break;
    if (a === "-I") replace = argv[i++];
    else if (a.startsWith("-I")) replace = a.slice(2);
    else if (a === "-i" || a === "--replace") replace = "{}";
    else if (a.startsWith("--replace=")) replace = a.slice("--replace=".length);
    else if (a === "-a" || a.startsWith("--arg-file")) fromFile = true;
    if (/^-[dEeLnPsa]$/.test(a)) i++;
  }
  const rest = argv.slice(i);
  if (rest.length === 0) return;
  const input = fromFile ? null : xargsInput(command);
  if (!input) {
    pushDerived(rest, walk, depth, { program: "xargs" }, written);
    return;
  }
  const runs =
    replace === undefined
      ? [[...rest, ...input.items]]
      : input.items.map((item) => rest.map((a) => a.replaceAll(replace, item)));
  for (const words of runs) pushDerived(words, walk, depth, input.runBy, written);
}

/** GNU parallel's options that take a value. */
const PARALLEL_VALUED =
  /^(-[0-9A-Za-z]*[adEIjPlLnNsSC]|--(arg-file|arg-sep|arg-file-sep|delimiter|eof|replace|jobs|max-procs|max-lines|max-args|max-replace-args|max-chars|sshlogin|sshloginfile|slf|colsep|results|res|joblog|timeout|tmpdir|workdir|wd|load|memfree|retries|halt|delay|basefile|bf|return|transferfile|tf|env|tagstring|tag-string|header|block|blocksize|sshdelay|nice|termseq|limit|rpl|id|semaphorename))$/;
/** `:::` words follow, `::::` files whose lines are the arguments (`+`: linked to the previous). */
const PARALLEL_SOURCE = /^::::?\+?$/;
/** The most jobs of one parallel command that are analysed; past it its arguments are unknown. */
const MAX_JOBS = 64;

/**
 * GNU parallel runs its command (through a shell) once per argument, or per combination of
 * one argument of each `:::` list, put in place of `{}` (`{.}`, `{/}`, `{//}`, `{/.}`, `{1}`,
 * ...) or appended; without a command each argument is a command line. Arguments from its
 * input are known as xargs' are (xargsInput); from files (`::::`, `-a`) they are not.
 */
function parallel(command: SimpleCommand, walk: Walk, depth: number): void {
  const { argv } = command;
  let replace = "{}";
  let fromFile = false;
  let i = 1;
  while (i < argv.length && (argv[i] as string).startsWith("-")) {
    const a = argv[i] as string;
    i++;
    if (a === "--") break;
    if (a === "-I") replace = argv[i] ?? replace;
    else if (a.startsWith("--replace=")) replace = a.slice("--replace=".length);
    if (/^(-[0-9A-Za-z]*a|--arg-file)$/.test(a) || a.startsWith("--arg-file=")) fromFile = true;
    if (PARALLEL_VALUED.test(a)) i++;
  }
  const first = argv.findIndex((a, j) => j >= i && PARALLEL_SOURCE.test(a));
  const template = argv.slice(i, first < 0 ? undefined : first).join(" ");
  let jobs: string[][] | null = [[]];
  let runBy: SimpleCommand["runBy"];
  if (first >= 0) {
    const groups: string[][] = [];
    for (let j = first; j < argv.length; j++) {
      const a = argv[j] as string;
      if (!PARALLEL_SOURCE.test(a)) groups[groups.length - 1]?.push(a);
      else if (a.startsWith("::::")) fromFile = true;
      else groups.push([]);
    }
    for (const group of groups) {
      jobs = jobs.flatMap((job) => group.map((value) => [...job, value]));
      if (jobs.length > MAX_JOBS) break;
    }
  } else if (!fromFile) {
    const input = xargsInput(command);
    jobs = input?.items.map((item) => [item]) ?? null;
    runBy = input?.runBy;
  }
  if (fromFile || jobs === null || jobs.length > MAX_JOBS) {
    // unknown arguments: without a command, they are the command lines
    if (template === "") walk.analysis.opaque.push(argv.join(" "));
    else derive(template, walk, depth, { program: "xargs" });
    return;
  }
  for (const values of jobs) {
    const line = template === "" ? values.join(" ") : fillJob(template, values, replace);
    derive(line, walk, depth, runBy);
  }
}

/** Shell-quoted, as parallel puts an argument into its command line. */
const shellQuote = (value: string) => `'${value.replaceAll("'", "'\\''")}'`;
const REPLACEMENT = /\{(\d*)(\.|\/\/|\/\.|\/)?\}/g;

/** parallel's command line for one job: the arguments in place of the replacement strings, or appended. */
function fillJob(template: string, values: string[], replace: string): string {
  if (replace !== "{}") {
    const all = values.map(shellQuote).join(" ");
    return template.includes(replace) ? template.replaceAll(replace, all) : `${template} ${all}`;
  }
  let replaced = false;
  const line = template.replace(REPLACEMENT, (_, n: string, part: string | undefined) => {
    replaced = true;
    const picked = n === "" ? values : [values[Number(n) - 1] ?? ""];
    return picked.map((v) => shellQuote(pathPart(v, part))).join(" ");
  });
  return replaced ? line : `${template} ${values.map(shellQuote).join(" ")}`;
}

/** `{.}` without the extension, `{/}` the base name, `{//}` the directory, `{/.}` both. */
function pathPart(value: string, part: string | undefined): string {
  const slash = value.lastIndexOf("/");
  const name = value.slice(slash + 1);
  if (part === "//") return slash < 0 ? "." : value.slice(0, slash) || "/";
  if (part === "/") return name;
  if (part === "/.") return name.replace(/\.[^.]*$/, "");
  if (part === ".") return value.replace(/\.[^./]*$/, "");
  return value;
}

/** Analyses a command line another command runs, its commands run by that one (`runBy`). */
function derive(line: string, walk: Walk, depth: number, runBy: SimpleCommand["runBy"]): void {
  const start = walk.analysis.commands.length;
  visit(line, walk, depth + 1);
  if (runBy) for (const c of walk.analysis.commands.slice(start)) c.runBy ??= runBy;
}

function xargsInput(c: SimpleCommand): { items: string[]; runBy?: SimpleCommand["runBy"] } | null {
  const words = (text: string) => text.split(/\s+/).filter(Boolean);
  const hereString = c.redirects.find((r) => r.op === "<<<");
  if (hereString) return { items: words(hereString.target) };
  const producer = c.pipedFrom;
  if (!producer || c.redirects.some((r) => /^\d*<(<-?)?$/.test(r.op))) return null;
  const program = basename(producer.argv[0] ?? "");
  const args = producer.argv.slice(1);
  if (program === "echo") {
    const first = args.findIndex((a) => !/^-[neE]+$/.test(a));
    return { items: first < 0 ? [] : args.slice(first).flatMap(words) };
  }
  if (program === "printf" && args[0] !== undefined) {
    return {
      items: args.length === 1 ? words(args[0].replace(/\\[nt]/g, " ")) : args.slice(1).flatMap(words),
    };
  }
  if (program === "find") {
    return {
      items: findRoots(producer.argv),
      runBy: { program: "find", filtered: producer.argv.some((a) => FIND_TESTS.test(a)) },
    };
  }
  // ls prints the names inside a directory without it; with -d, the paths as given
  if (program === "ls" && args.some((a) => /^-[A-Za-z]*d/.test(a))) {
    return { items: args.filter((a) => !a.startsWith("-")) };
  }
  return null;
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

/** Words no shell wrote: what interpreter code runs. */
const NOT_WRITTEN: Written = { tokens: [], values: new Map() };

function pushDerived(
  argv: string[],
  walk: Walk,
  depth: number,
  runBy: SimpleCommand["runBy"],
  written: Written,
): void {
  const { argv: inner, wrappers, remote } = unwrap(argv);
  if (inner.length === 0 || exhausted(walk, argv.join(" "))) return;
  const command: SimpleCommand = { argv: inner, redirects: [], pipedInput: false, wrappers, runBy };
  const cwd = walk.cwd;
  if (remote) walk.cwd = "~";
  if (walk.cwd !== undefined) command.cwd = walk.cwd;
  walk.analysis.commands.push(command);
  expandInner(command, walk, depth + 1, written);
  walk.cwd = cwd;
}
