/**
 * A program's arguments split into options and operands, knowing which options take a value:
 * `-o file`, `-ofile`, `-fsSLo file` (a bundle whose last flag takes the next word),
 * `--output file`, `--output=file`; `--` ends the options.
 */

export interface ArgSpec {
  /** Short options (letters) that take a value. */
  short?: string;
  /** Long options (without `--`) that take a value. */
  long?: readonly string[];
}

export interface ParsedArgs {
  /** Every option given, by name (`o`, `output`), with its value when it takes one ("" for a flag). */
  options: { name: string; value: string }[];
  operands: string[];
}

export function parseArgs(args: readonly string[], spec: ArgSpec = {}): ParsedArgs {
  const options: ParsedArgs["options"] = [];
  const operands: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === "--") {
      operands.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      if (eq >= 0) options.push({ name, value: a.slice(eq + 1) });
      else if (spec.long?.includes(name)) options.push({ name, value: args[++i] ?? "" });
      else options.push({ name, value: "" });
      continue;
    }
    if (a.startsWith("-") && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const letter = a[j] as string;
        if (!spec.short?.includes(letter)) {
          options.push({ name: letter, value: "" });
          continue;
        }
        // the rest of the word is the value, else the next word
        const rest = a.slice(j + 1);
        options.push({ name: letter, value: rest || (args[++i] ?? "") });
        break;
      }
      continue;
    }
    operands.push(a);
  }
  return { options, operands };
}

/** The value of the last of these options given, or undefined. */
export function optionValue(parsed: ParsedArgs, ...names: string[]): string | undefined {
  let value: string | undefined;
  for (const o of parsed.options) if (names.includes(o.name)) value = o.value;
  return value;
}

export const hasOption = (parsed: ParsedArgs, ...names: string[]) =>
  parsed.options.some((o) => names.includes(o.name));
