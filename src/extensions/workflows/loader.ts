import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type Workflow, workflowFile } from "./schema.js";
import { unknownTemplatePaths } from "./template.js";

/**
 * Reads the workflow files of a directory (`*.json`, not recursive, in name order). A file with
 * a problem is reported with its path and one reason and left out; the others load. A missing
 * directory holds no workflows.
 */

export interface WorkflowProblem {
  file: string;
  message: string;
}

interface LoadedWorkflows {
  workflows: { file: string; workflow: Workflow }[];
  problems: WorkflowProblem[];
}

export function readWorkflows(dir: string, isMethod: (name: string) => boolean): LoadedWorkflows {
  const out: LoadedWorkflows = { workflows: [], problems: [] };
  if (!existsSync(dir)) return out;
  const names = new Map<string, string>();
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort();
  for (const name of files) {
    const file = join(dir, name);
    const problem = (message: string) => out.problems.push({ file, message });
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, "utf8"));
    } catch (err) {
      problem(`not valid JSON: ${(err as Error).message}`);
      continue;
    }
    const parsed = workflowFile.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const at = issue?.path.length ? `${issue.path.join(".")}: ` : "";
      problem(`${at}${issue?.message ?? "invalid workflow"}`);
      continue;
    }
    const workflows = Array.isArray(parsed.data) ? parsed.data : [parsed.data];
    const reason = workflows.map((w) => checkWorkflow(w, isMethod, names.get(w.name))).find(Boolean);
    if (reason) {
      problem(reason);
      continue;
    }
    for (const workflow of workflows) {
      names.set(workflow.name, file);
      if (workflow.enabled) out.workflows.push({ file, workflow });
    }
  }
  return out;
}

function checkWorkflow(w: Workflow, isMethod: (name: string) => boolean, clash?: string): string | null {
  if (clash) return `workflow ${w.name}: the name is already used by ${clash}`;
  if (!isMethod(w.call.method))
    return `workflow ${w.name}: call.method ${w.call.method} is not a method of this server`;
  const unknown = unknownTemplatePaths(w.call.params);
  if (unknown.length > 0)
    return `workflow ${w.name}: unknown template {{${unknown[0]}}} (roots: event, payload, id, name, source, ts, delivery)`;
  if (w.backoff && w.backoff.maxMs < w.backoff.baseMs)
    return `workflow ${w.name}: backoff.maxMs is below baseMs`;
  return null;
}
