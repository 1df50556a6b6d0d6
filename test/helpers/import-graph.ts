// The project's import graph, read with the TypeScript parser (not a regex): an import named in a
// comment or a string is not an import, and `import type`, `export … from`, `import("…")` and
// type-position `import("…").T` all are, since each makes one module name another.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import ts from "typescript";

export interface ModuleImport {
  /** The specifier as written, e.g. "../core/errors.js". */
  specifier: string;
  /** Nothing of it exists at run time (`import type`, `export type … from`, `import("…").T`). */
  typeOnly: boolean;
}

function isTypeOnlyImport(node: ts.ImportDeclaration): boolean {
  // `import "x"` runs x; so does `import { type A } from "x"`, which verbatimModuleSyntax keeps
  // as `import {} from "x"`: only `import type` leaves nothing at run time.
  return node.importClause?.isTypeOnly === true;
}

/** Every module a source text names, in order of appearance; dynamic imports only with a literal path. */
export function readImports(fileName: string, text: string): ModuleImport[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: ModuleImport[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push({ specifier: node.moduleSpecifier.text, typeOnly: isTypeOnlyImport(node) });
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      found.push({ specifier: node.moduleSpecifier.text, typeOnly: node.isTypeOnly });
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      found.push({ specifier: node.arguments[0].text, typeOnly: false });
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      found.push({ specifier: node.argument.literal.text, typeOnly: true });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

export interface ImportEdge {
  /** Importing file, relative to the source root with "/" separators, e.g. "core/handler.ts". */
  from: string;
  /** Imported file, relative to the same root. */
  to: string;
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(name) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

/** The project file a relative specifier names ("./x.js" is written for "./x.ts"), or undefined. */
function resolveSpecifier(
  fromFile: string,
  specifier: string,
  files: ReadonlySet<string>,
): string | undefined {
  if (!specifier.startsWith(".")) return undefined; // a package or node: builtin
  const target = resolve(dirname(fromFile), specifier);
  const candidates = [target, target.replace(/\.js$/, ".ts"), `${target}.ts`, join(target, "index.ts")];
  return candidates.find((candidate) => files.has(candidate));
}

/**
 * The project-internal imports of every .ts file under `root`, one edge per import statement.
 * A relative specifier that names no file under `root` (a JSON or Lua asset) is not an edge.
 */
export function readImportGraph(root: string): ImportEdge[] {
  const files = sourceFiles(root);
  const known = new Set(files);
  const name = (path: string) => relative(root, path).split(sep).join("/");
  return files.sort().flatMap((file) =>
    readImports(file, readFileSync(file, "utf8")).flatMap(({ specifier, typeOnly }) => {
      const to = resolveSpecifier(file, specifier, known);
      return to ? [{ from: name(file), to: name(to), typeOnly }] : [];
    }),
  );
}

export interface ImportCircle {
  /** Every file of the tangle: each reaches each other through imports. */
  files: string[];
  /** The shortest circle from the tangle's first file back to itself, that file at both ends. */
  circle: string[];
}

/**
 * Each import tangle once: a strongly connected component (Tarjan) of the graph, so that a
 * tangle of many files is one finding rather than every path through it.
 */
export function findCycles(edges: readonly ImportEdge[]): ImportCircle[] {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) {
    const list = next.get(from) ?? [];
    if (!list.includes(to)) list.push(to);
    next.set(from, list);
  }
  for (const list of next.values()) list.sort();

  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let counter = 0;
  const connect = (file: string): void => {
    index.set(file, counter);
    low.set(file, counter);
    counter += 1;
    stack.push(file);
    onStack.add(file);
    for (const to of next.get(file) ?? []) {
      if (!index.has(to)) {
        connect(to);
        low.set(file, Math.min(low.get(file) ?? 0, low.get(to) ?? 0));
      } else if (onStack.has(to)) {
        low.set(file, Math.min(low.get(file) ?? 0, index.get(to) ?? 0));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string | undefined;
    do {
      member = stack.pop();
      if (member === undefined) break;
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    const selfImport = next.get(file)?.includes(file) ?? false;
    if (component.length > 1 || selfImport) components.push(component.sort());
  };
  for (const file of [...next.keys()].sort()) if (!index.has(file)) connect(file);

  return components
    .sort((a, b) => (a[0] as string).localeCompare(b[0] as string))
    .map((files) => ({ files, circle: shortestCircleThrough(files[0] as string, new Set(files), next) }));
}

/** The shortest circle from `start` back to itself inside one component (breadth first). */
function shortestCircleThrough(
  start: string,
  component: ReadonlySet<string>,
  next: ReadonlyMap<string, string[]>,
): string[] {
  const cameFrom = new Map<string, string>();
  const queue = [start];
  for (let at = 0; at < queue.length; at += 1) {
    const file = queue[at] as string;
    for (const to of next.get(file) ?? []) {
      if (!component.has(to)) continue;
      if (to === start) {
        const path = [file];
        while (path[0] !== start) path.unshift(cameFrom.get(path[0] as string) as string);
        return [...path, start];
      }
      if (!cameFrom.has(to)) {
        cameFrom.set(to, file);
        queue.push(to);
      }
    }
  }
  return [start, start];
}
