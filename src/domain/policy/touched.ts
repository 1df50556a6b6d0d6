import { type ArgSpec, hasOption, optionValue, type ParsedArgs, parseArgs } from "./argv.js";
import type { SimpleCommand } from "./shell.js";

/**
 * The files a tool call would write, read or delete: a tool's path field, or a shell command's
 * redirections and the operands of the programs whose operands are files. A deletion is what
 * `rm`, `unlink`, `rmdir`, `shred -u`, `mv` (its sources), `rsync --delete` (inside its
 * destination) and `rsync --remove-source-files` (its sources) do.
 */

/** A file and the shell command that touches it (none for a tool's own path field). */
export interface Touched {
  path: string;
  command?: SimpleCommand;
}

export interface TouchedPaths {
  writes: Touched[];
  reads: Touched[];
  deletes: Touched[];
}

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

/** Options that take a value, for the programs whose operands are judged here. */
const COPY: ArgSpec = { short: "tS", long: ["target-directory", "suffix"] };
const SPECS: Record<string, ArgSpec> = {
  cp: COPY,
  mv: COPY,
  ln: COPY,
  install: { short: "tSmogC", long: ["target-directory", "suffix", "mode", "owner", "group"] },
  truncate: { short: "sr", long: ["size", "reference"] },
  shred: { short: "ns", long: ["iterations", "size", "random-source"] },
  sed: { short: "efl", long: ["expression", "file", "line-length"] },
  perl: { short: "eEIMx" },
  tar: { short: "fCbFgKLNTVX", long: ["file", "directory", "exclude", "files-from", "transform"] },
  unzip: { short: "dx" },
  rsync: {
    short: "efTBM",
    long: [
      "rsh",
      "exclude",
      "include",
      "filter",
      "files-from",
      "exclude-from",
      "include-from",
      "temp-dir",
      "backup-dir",
      "suffix",
      "log-file",
      "chmod",
      "chown",
      "port",
      "password-file",
      "block-size",
      "max-size",
      "min-size",
      "timeout",
      "bwlimit",
      "partial-dir",
      "compare-dest",
      "copy-dest",
      "link-dest",
      "rsync-path",
      "out-format",
      "max-delete",
      "usermap",
      "groupmap",
    ],
  },
};

/** Programs whose operands are files they write or delete (READ_COMMANDS: read). */
const FILE_COMMANDS = new Set([...Object.keys(SPECS), "tee", "rm", "unlink", "rmdir", "dd"]);

/** An rsync location on another machine: `host:path`, `host::module`, `rsync://...`. */
const REMOTE = /^([^/]*:|rsync:\/\/)/;

export function touchedPaths(
  tool: string,
  input: Record<string, unknown>,
  commands: SimpleCommand[],
): TouchedPaths {
  const paths: TouchedPaths = { writes: [], reads: [], deletes: [] };
  for (const field of WRITE_TOOLS[tool] ?? []) {
    if (typeof input[field] === "string") paths.writes.push({ path: input[field] as string });
  }
  for (const field of READ_TOOLS[tool] ?? []) {
    if (typeof input[field] === "string") paths.reads.push({ path: input[field] as string });
  }
  for (const command of commands) commandPaths(command, paths);
  return paths;
}

function commandPaths(command: SimpleCommand, paths: TouchedPaths): void {
  const add = (list: Touched[], files: string[]) => {
    for (const path of files) list.push({ path, command });
  };
  for (const r of command.redirects) {
    if (WRITE_REDIRECT.test(r.op)) add(paths.writes, [r.target]);
    else if (r.op === "<") add(paths.reads, [r.target]);
  }
  const program = command.argv[0] ?? "";
  const name = program.slice(program.lastIndexOf("/") + 1);
  if (!READ_COMMANDS.has(name) && !FILE_COMMANDS.has(name)) return;
  const args = command.argv.slice(1);
  const parsed = parseArgs(args, SPECS[name]);
  const { operands } = parsed;
  if (READ_COMMANDS.has(name))
    add(
      paths.reads,
      operands.map((o) => o.replace(/^@/, "")),
    );
  switch (name) {
    case "tee":
    case "truncate":
      add(paths.writes, operands);
      break;
    case "shred":
      add(paths.writes, operands);
      if (hasOption(parsed, "u", "remove")) add(paths.deletes, operands);
      break;
    case "rm":
    case "unlink":
    case "rmdir":
      add(paths.deletes, operands);
      break;
    case "cp":
    case "mv":
    case "ln":
    case "install": {
      const { sources, target } = copyOperands(parsed);
      if (target !== undefined) add(paths.writes, [target]);
      if (name === "install" && hasOption(parsed, "d", "directory")) add(paths.writes, operands);
      // mv takes its sources away
      if (name === "mv") add(paths.deletes, sources);
      break;
    }
    case "rsync": {
      const local = operands.filter((o) => !REMOTE.test(o));
      const target = operands.length > 1 ? operands[operands.length - 1] : undefined;
      if (target === undefined || !local.includes(target)) break;
      add(paths.writes, [target]);
      // --delete removes from the destination whatever the sources lack
      if (parsed.options.some((o) => o.name === "del" || o.name.startsWith("delete")))
        add(paths.deletes, [target]);
      if (hasOption(parsed, "remove-source-files")) {
        add(
          paths.deletes,
          operands.slice(0, -1).filter((o) => !REMOTE.test(o)),
        );
      }
      break;
    }
    case "sed":
      // sed -i rewrites its files; without -e or -f the first operand is the script
      if (hasOption(parsed, "i", "in-place")) {
        add(paths.writes, hasOption(parsed, "e", "expression", "f", "file") ? operands : operands.slice(1));
      }
      break;
    case "perl":
      if (hasOption(parsed, "i")) add(paths.writes, operands);
      break;
    case "tar": {
      // old style: `tar xzf file` bundles its flags without a dash
      const bundled =
        args[0] !== undefined && /^[A-Za-z]+$/.test(args[0])
          ? parseArgs([`-${args[0]}`, ...args.slice(1)], SPECS.tar)
          : parsed;
      const directory = optionValue(bundled, "C", "directory");
      if (directory !== undefined && hasOption(bundled, "x", "extract", "get"))
        add(paths.writes, [directory]);
      break;
    }
    case "unzip": {
      const directory = optionValue(parsed, "d");
      if (directory !== undefined) add(paths.writes, [directory]);
      break;
    }
    case "dd":
      for (const a of args) if (a.startsWith("of=")) add(paths.writes, [a.slice(3)]);
      break;
  }
}

/** cp, mv, ln, install: the target (`-t dir`, else the last of two or more operands) and the sources. */
function copyOperands(parsed: ParsedArgs): { sources: string[]; target: string | undefined } {
  const directory = optionValue(parsed, "t", "target-directory");
  if (directory !== undefined) return { sources: parsed.operands, target: directory };
  if (parsed.operands.length < 2) return { sources: [], target: undefined };
  return { sources: parsed.operands.slice(0, -1), target: parsed.operands[parsed.operands.length - 1] };
}
