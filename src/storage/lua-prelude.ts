/**
 * Joins a shared Lua prelude to a script, keeping only the prelude's top-level definitions the
 * script uses (directly or through other definitions it keeps).
 *
 * Why: a script's body runs from the top on every EVALSHA, so each `local function` of the
 * prelude is a closure built on every call whether the script uses it or not. The whole coordination
 * prelude cost ~4 µs per call in Redis; dropping the unused part saved ~5 % of a
 * create → claim → complete cycle's time in Redis (docs/performance.md, "Lua").
 *
 * A definition is a line starting with `local function name` or `local a, b = ...` at column 0,
 * with the comment lines just above it and every line up to the next one. The first definition
 * (the common ARGV) is always kept. A name counts as used when it appears as a word in the code
 * outside comments; a false match only keeps a definition that was not needed.
 */
export function withPrelude(prelude: string, script: string): string {
  const definitions = splitDefinitions(prelude);
  const kept = new Set<Definition>();
  const keep = (definition: Definition) => {
    kept.add(definition);
    visit(definition.code);
  };
  const visit = (code: string) => {
    for (const definition of definitions) {
      if (!kept.has(definition) && definition.names.some((name) => usesName(code, name))) keep(definition);
    }
  };
  if (definitions[0]) keep(definitions[0]);
  visit(withoutComments(script));
  const used = definitions.filter((d) => kept.has(d)).map((d) => d.text);
  return `${used.join("\n")}\n${script}`;
}

interface Definition {
  names: string[];
  /** The definition with the comments above it, as written. */
  text: string;
  /** The definition without comments, for finding the names it uses. */
  code: string;
}

const DEFINITION = /^local (?:function (\w+)|([\w, ]+?)\s*=)/;

function splitDefinitions(prelude: string): Definition[] {
  const definitions: { names: string[]; lines: string[] }[] = [];
  let comments: string[] = [];
  for (const line of withoutBlockComments(prelude).split("\n")) {
    const match = DEFINITION.exec(line);
    const current = definitions.at(-1);
    if (match) {
      const names = match[1] ? [match[1]] : (match[2] ?? "").split(",").map((n) => n.trim());
      definitions.push({ names, lines: [...comments, line] });
      comments = [];
    } else if (line.startsWith("--") || line.trim() === "") {
      comments.push(line);
    } else if (current) {
      current.lines.push(...comments, line);
      comments = [];
    }
  }
  return definitions.map(({ names, lines }) => {
    const text = lines.join("\n").trimEnd();
    return { names, text, code: withoutComments(text) };
  });
}

const withoutBlockComments = (lua: string) => lua.replace(/--\[\[[\s\S]*?\]\]/g, "");
/** Lua code without its comments, to look for the names it uses. */
export const withoutComments = (lua: string) => withoutBlockComments(lua).replace(/--.*$/gm, "");
const usesName = (code: string, name: string) => new RegExp(`\\b${name}\\b`).test(code);
