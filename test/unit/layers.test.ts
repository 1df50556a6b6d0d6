import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { findCycles, type ImportEdge, readImportGraph, readImports } from "../helpers/import-graph.js";

/**
 * The layers of src/, bottom to top, and what each may import besides itself and the contract
 * (docs/architecture.md quotes this table). A file belongs to the layer of its longest
 * matching path; type-only imports count like any other, since a type names its module too.
 *
 * - contract/ holds the wire shapes the server and its clients share (the task, the domain
 *   event, JSON-RPC answers, the request stream's key names): every layer may import it, and it
 *   imports nothing of the project.
 * - observability and resilience sit above domain: the audit trail writes domain audit
 *   records, the metrics read task gauges; the breaker reports its state as a metric family.
 * - extensions (plugins, subscriptions, workflows, hook links) extend the domain and keep
 *   their own Redis state (delivery groups, dead letters), and a workflow's actions are
 *   rate limited: core, storage, domain, resilience.
 * - services.ts names the services a handler may use: domain objects and the extension
 *   services (hook chains, subscriptions, the plugin report).
 * - handlers call the domain and, for hooks, the hook chains an extension may join.
 * - transports serve a Dispatcher and the events the composition root hands them.
 * - client/ ships in the CLI and the library: it knows the server only through core's types
 *   and the contract; the dashboard's page is a client too.
 * - The composition roots build everything, so they may import anything; cli/main.ts is the
 *   program's entry, which loads either a client command or the server.
 */
const LAYERS = [
  { name: "contract", paths: ["contract/"], mayImport: [] },
  { name: "core", paths: ["core/", "version.ts"], mayImport: [] },
  { name: "storage", paths: ["storage/"], mayImport: ["core"] },
  { name: "domain", paths: ["domain/"], mayImport: ["core", "storage"] },
  { name: "observability", paths: ["observability/"], mayImport: ["core", "storage", "domain"] },
  {
    name: "resilience",
    paths: ["resilience/"],
    mayImport: ["core", "storage", "domain", "observability"],
  },
  {
    name: "extensions",
    paths: ["extensions/"],
    mayImport: ["core", "storage", "domain", "resilience"],
  },
  {
    name: "services",
    paths: ["services.ts"],
    mayImport: ["core", "storage", "domain", "extensions"],
  },
  { name: "handlers", paths: ["handlers/"], mayImport: ["core", "domain", "extensions", "services"] },
  { name: "transports", paths: ["transports/"], mayImport: ["core"] },
  { name: "client", paths: ["client/", "client-config.ts"], mayImport: ["core"] },
  { name: "cli", paths: ["cli/"], mayImport: ["core", "client"] },
  { name: "dashboard", paths: ["dashboard/"], mayImport: ["core", "client"] },
  {
    name: "composition root",
    paths: ["server.ts", "index.ts", "config.ts", "cli/main.ts", "cli/serve.ts"],
    mayImport: "anything",
  },
] as const satisfies readonly Layer[];

interface Layer {
  name: string;
  /** A folder ("core/") or one file ("server.ts"), relative to src/. */
  paths: readonly string[];
  mayImport: readonly string[] | "anything";
}

/**
 * Inside handlers/ a file imports only schemas: a shape two handlers share lives in a
 * schemas.ts or below, never in another handler. handlers/index.ts is the list of them all.
 */
const HANDLER_LIST = "handlers/index.ts";
/** The layer every other may import (see LAYERS). */
const CONTRACT = "contract";
const isHandlerSchemas = (file: string) => file.startsWith("handlers/") && file.endsWith("/schemas.ts");

function layerOf(file: string): Layer | undefined {
  let best: { layer: Layer; length: number } | undefined;
  for (const layer of LAYERS as readonly Layer[]) {
    for (const path of layer.paths) {
      const matches = path.endsWith("/") ? file.startsWith(path) : file === path;
      if (matches && path.length > (best?.length ?? 0)) best = { layer, length: path.length };
    }
  }
  return best?.layer;
}

const allowedList = (layer: Layer) =>
  layer.mayImport === "anything" || layer.mayImport.length === 0
    ? "nothing of the project"
    : layer.mayImport.join(", ");

/** The rule an import breaks, or undefined when it keeps them all. */
function brokenRule({ from, to }: ImportEdge): string | undefined {
  const source = layerOf(from);
  const target = layerOf(to);
  if (!source || !target) return undefined; // unplaced files fail their own test below
  if (source === target) {
    if (source.name !== "handlers" || from === HANDLER_LIST || isHandlerSchemas(to)) return undefined;
    return "a handler imports no other handler file, only schemas.ts";
  }
  if (target.name === CONTRACT || source.mayImport === "anything" || source.mayImport.includes(target.name))
    return undefined;
  return `${source.name} may import ${allowedList(source)}; ${to} is ${target.name}`;
}

const SRC = join(import.meta.dirname, "..", "..", "src");
const graph = readImportGraph(SRC);

describe("the layers of src/ (LAYERS)", () => {
  it("place every source file in a layer", () => {
    // every file, also one that imports nothing and that nothing imports (an entry point)
    const files = readdirSync(SRC, { recursive: true, encoding: "utf8" }).filter((f) => /\.m?ts$/.test(f));
    const unplaced = files.filter((file) => !layerOf(file)).sort();
    assert.deepEqual(unplaced, [], `files in no layer (add their folder to LAYERS): ${unplaced.join(", ")}`);
  });

  it("have no import that runs up or sideways", () => {
    const violations = graph.flatMap((edge) => {
      const rule = brokenRule(edge);
      return rule ? [`${edge.from} → ${edge.to}${edge.typeOnly ? " (type)" : ""} (${rule})`] : [];
    });
    const unique = [...new Set(violations)];
    assert.equal(unique.length, 0, `${unique.length} imports break the layers:\n  ${unique.join("\n  ")}`);
  });

  it("have no import circle", () => {
    const cycles = findCycles(graph).map(
      ({ files, circle }) =>
        `${circle.join(" → ")} (import circle${files.length > circle.length - 1 ? ` among ${files.join(", ")}` : ""})`,
    );
    assert.equal(cycles.length, 0, `${cycles.length} import circles:\n  ${cycles.join("\n  ")}`);
  });
});

describe("the import reader the layer test relies on", () => {
  it("reads static, re-exported, type-only and literal dynamic imports", () => {
    const text = [
      `import { a } from "./a.js";`,
      `import type { B } from "./b.js";`,
      `import { type C, type D } from "./c.js";`,
      `import { type E, f } from "./e.js";`,
      `import "./side-effect.js";`,
      `export { g } from "./g.js";`,
      `export type { H } from "./h.js";`,
      `export * from "./star.js";`,
      `const lazy = () => import("./lazy.js");`,
      "type T = import('./t.js').T;",
      "const computed = (name: string) => import(name);",
    ].join("\n");
    assert.deepEqual(readImports("x.ts", text), [
      { specifier: "./a.js", typeOnly: false },
      { specifier: "./b.js", typeOnly: true },
      { specifier: "./c.js", typeOnly: false },
      { specifier: "./e.js", typeOnly: false },
      { specifier: "./side-effect.js", typeOnly: false },
      { specifier: "./g.js", typeOnly: false },
      { specifier: "./h.js", typeOnly: true },
      { specifier: "./star.js", typeOnly: false },
      { specifier: "./lazy.js", typeOnly: false },
      { specifier: "./t.js", typeOnly: true },
    ]);
  });

  it("is not fooled by imports written in comments or strings", () => {
    const text = [
      `// import { a } from "./commented.js";`,
      `/* export * from "./block.js"; */`,
      `const s = 'import x from "./in-a-string.js"';`,
      'const t = `import("./in-a-template.js")`;',
    ].join("\n");
    assert.deepEqual(readImports("x.ts", text), []);
  });

  it("finds each import circle once, shortest path first", () => {
    const edge = (from: string, to: string): ImportEdge => ({ from, to, typeOnly: false });
    const cycles = findCycles([
      edge("a.ts", "b.ts"),
      edge("b.ts", "c.ts"),
      edge("c.ts", "a.ts"),
      edge("c.ts", "b.ts"),
      edge("d.ts", "a.ts"),
      edge("e.ts", "e.ts"),
    ]);
    assert.deepEqual(cycles, [
      { files: ["a.ts", "b.ts", "c.ts"], circle: ["a.ts", "b.ts", "c.ts", "a.ts"] },
      { files: ["e.ts"], circle: ["e.ts", "e.ts"] },
    ]);
  });

  it("names the rule a forbidden import breaks", () => {
    const rule = (from: string, to: string) => brokenRule({ from, to, typeOnly: true });
    assert.equal(
      rule("core/handler.ts", "resilience/policy.ts"),
      "core may import nothing of the project; resilience/policy.ts is resilience",
    );
    assert.equal(
      rule("handlers/task/complete.ts", "handlers/task/claim.ts"),
      "a handler imports no other handler file, only schemas.ts",
    );
    assert.equal(rule("handlers/task/complete.ts", "handlers/task/schemas.ts"), undefined);
    assert.equal(rule("handlers/index.ts", "handlers/task/claim.ts"), undefined);
    assert.equal(rule("cli/serve.ts", "server.ts"), undefined);
    assert.match(rule("cli/task.ts", "domain/tasks/model.ts") ?? "", /^cli may import core, client;/);
    assert.equal(rule("client/worker.ts", "contract/tasks.ts"), undefined);
    assert.match(
      rule("contract/tasks.ts", "core/iso-time.ts") ?? "",
      /^contract may import nothing of the project;/,
    );
  });
});
