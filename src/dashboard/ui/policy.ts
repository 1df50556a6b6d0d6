import type { App } from "./app.js";
import { dataTable, fill, h } from "./dom.js";

/**
 * The Hooks view's "Active rules": what `hook.policy` says is in force for a project — the
 * projects offered are the working directories of the sessions seen. Loaded when the section
 * first shows, when the project changes and on Refresh: policy files change rarely, and a
 * live view must not ask the server on every redraw.
 */

interface PolicyRule {
  id: string;
  hook: string;
  decisions: string[];
  matches: string;
  source: string;
  active: boolean;
  reason?: string;
}

interface PolicyAnswer {
  file: string | null;
  error: string | null;
  protectedBranches: string[];
  sudo: string;
  rules: PolicyRule[];
  links: { name: string; hook: string; priority: number; tools: string[] | null; timeoutMs: number }[];
}

export interface PolicySection {
  root: HTMLElement;
  /** Called by the view's update: offers the projects seen and loads what is not loaded yet. */
  update(): void;
}

export function policySection(app: App): PolicySection {
  const project = h("select", { name: "cwd" }, h("option", { value: "" }, "server default"));
  const refresh = h("button", { type: "button" }, "Refresh");
  const form = h(
    "form",
    { class: "bar", "aria-label": "Active rules of a project" },
    h("label", {}, "Project", project),
    refresh,
  );
  form.addEventListener("submit", (e) => e.preventDefault());
  const body = h("div", { "aria-live": "polite" }, h("p", { class: "muted" }, "loading…"));
  const root = h(
    "div",
    { role: "region", "aria-labelledby": "active-rules-title" },
    h("h2", { id: "active-rules-title" }, "Active rules"),
    form,
    body,
  );

  let loaded: string | undefined; // the cwd whose rules are shown
  let loading = false;
  let offered = "";

  const load = async (cwd: string) => {
    loading = true;
    try {
      const answer = await app.api.call<PolicyAnswer>("hook.policy", cwd ? { cwd } : {});
      loaded = cwd;
      show(answer);
    } catch (err) {
      fill(body, h("p", { class: "error-text" }, `could not load the rules: ${(err as Error).message}`));
      loaded = cwd; // not again on every redraw: Refresh retries
    } finally {
      loading = false;
    }
  };
  project.addEventListener("change", () => void load(project.value));
  refresh.addEventListener("click", () => void load(project.value));

  function show(p: PolicyAnswer): void {
    fill(
      body,
      h(
        "p",
        { class: "muted" },
        p.file ? `Policy file: ${p.file}` : "No policy file: the built-in defaults",
        ` · protected branches: ${p.protectedBranches.join(", ") || "none"} · sudo: ${p.sudo}`,
      ),
      p.error ? h("p", { class: "error-text" }, `Not in force: ${p.error}`) : null,
      dataTable(
        { "aria-label": "Active policy rules" },
        ["Rule", "Hook", "Decisions", "Matches", "Source", "In force"],
        p.rules.map((r) => ({
          attrs: { "data-rule": r.id, class: r.active ? undefined : "muted" },
          cells: [
            r.id,
            r.hook,
            h("span", {}, ...r.decisions.map((d, i) => h("span", { class: d }, i ? `, ${d}` : d))),
            `${r.matches}${r.reason ? ` — ${r.reason}` : ""}`,
            r.source,
            r.active ? "yes" : "disabled",
          ],
        })),
      ),
      dataTable(
        { "aria-label": "Hook chain links" },
        ["Link", "Hook", "Priority", "Tools", "Timeout"],
        p.links.map((l) => ({
          attrs: { "data-link": l.name },
          cells: [l.name, l.hook, String(l.priority), l.tools?.join(", ") ?? "all", `${l.timeoutMs} ms`],
        })),
        "Hook chain links, in the order they run",
      ),
    );
  }

  return {
    root,
    update() {
      const cwds = [
        ...new Set([...app.store.instances.values()].flatMap((i) => (i.cwd?.startsWith("/") ? [i.cwd] : []))),
      ].sort();
      const key = cwds.join("\n");
      if (key !== offered) {
        offered = key;
        const chosen = project.value;
        fill(
          project,
          h("option", { value: "" }, "server default"),
          ...cwds.map((c) => h("option", { value: c, selected: c === chosen }, c)),
        );
      }
      if (loaded === undefined && !loading) void load(project.value);
    },
  };
}
