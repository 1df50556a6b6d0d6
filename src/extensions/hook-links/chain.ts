import type { CallContext } from "../../core/context.js";
import { AppError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import { within } from "../../core/timers.js";
import {
  type HookLink,
  type HookLinkContext,
  type HookPoint,
  type HookPoints,
  isHookLink,
  type PreToolVerdict,
} from "./link.js";

/**
 * Hook chains: every hook point (pre_tool, post_tool, user_prompt) runs its links in order —
 * higher priority first, equal priorities by name — and combines their verdicts:
 *
 * - the first `deny` (pre_tool) or `block` (post_tool, user_prompt) wins and ends the chain:
 *   the links after it do not run;
 * - otherwise `ask` beats everything else (the first ask's reason is shown), and a later deny
 *   still wins over it;
 * - `modify` composes: each later link sees the input as the earlier ones left it, and the
 *   answer carries the final input (with `ask` too, so the person approves what will run);
 * - warnings and added context accumulate, in order;
 * - a link that throws, answers nonsense or does not finish within its `timeoutMs` is recorded
 *   and, before a tool runs, fails closed as `ask` (a person decides); after a tool or for a
 *   prompt it is skipped.
 *
 * Every link that ran is recorded with its outcome and duration (`links` of the decision).
 */

/** What a chain decided, with each link that ran. */
export interface ChainDecision<P extends HookPoint = HookPoint> {
  decision: HookPoints[P]["verdict"]["decision"];
  reason: string;
  /** What decided (rule ids or link names, joined when several links modified or warned). */
  rule: string | null;
  /** pre_tool `modify` / `ask` after a modification: the whole replacement tool input. */
  updatedInput?: Record<string, unknown>;
  /** Context for the model: every link's, in order. */
  additionalContext?: string;
  /** Every warning (and modification) of the links, in order. */
  warnings: string[];
  links: LinkRecord[];
}

/** One link's run, as recorded. `outcome`: the link's decision, or `timeout` / `error`. */
export interface LinkRecord {
  name: string;
  outcome: string;
  /** How long it took (ms, 0.001 precision). */
  ms: number;
  /** What went wrong, for `timeout` / `error`. */
  error?: string;
}

/** The decision that ends the chain at each point, and the decisions a link may give there. */
const STOP: Record<HookPoint, string> = { pre_tool: "deny", post_tool: "block", user_prompt: "block" };
const VALID: Record<HookPoint, ReadonlySet<string>> = {
  pre_tool: new Set(["allow", "deny", "ask", "modify", "warn"]),
  post_tool: new Set(["allow", "block", "warn"]),
  user_prompt: new Set(["allow", "block", "warn"]),
};

class LinkTimeout extends Error {}

/** The context a link's `run` gets: its abort signal is made only when the link looks at it. */
class LinkContext<C extends CallContext> implements HookLinkContext<C> {
  #controller: AbortController | undefined;

  constructor(
    readonly hook: HookPoint,
    readonly link: string,
    readonly call: C,
  ) {}

  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    return this.#controller.signal;
  }

  get log(): Logger {
    return this.call.log;
  }

  abort(reason: Error): void {
    this.#controller ??= new AbortController();
    this.#controller.abort(reason);
  }
}

type AnyVerdict = HookPoints[HookPoint]["verdict"];

/** Runs one link for at most its timeoutMs; a synchronous link needs no timer. */
function runLink<C extends CallContext>(
  link: HookLink<HookPoint, C>,
  input: unknown,
  ctx: LinkContext<C>,
): unknown {
  const result = link.run(input as never, ctx);
  if (!(result instanceof Promise)) return result;
  return within(result, link.timeoutMs, () => {
    const err = new LinkTimeout(`did not answer within ${link.timeoutMs} ms`);
    ctx.abort(err);
    return err;
  });
}

/** The verdict, or why it is not one. */
function checkVerdict(point: HookPoint, value: unknown): AnyVerdict | string {
  if (value === undefined || value === null) return { decision: "allow" };
  const verdict = value as PreToolVerdict;
  if (typeof value !== "object" || !VALID[point].has(verdict.decision)) {
    return `answered ${JSON.stringify(value)?.slice(0, 100)}: not a ${point} decision (${[...VALID[point]].join(", ")})`;
  }
  if (
    verdict.decision === "modify" &&
    (typeof verdict.updatedInput !== "object" || verdict.updatedInput === null)
  ) {
    return "answered modify without updatedInput";
  }
  return verdict;
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/** A hook call's context: the kernel's, and the chains the call runs (links get it as `ctx.call`). */
export type HookCallContext<C extends CallContext> = CallContext & { readonly hookChains: HookChains<C> };

/**
 * The links of every hook point, kept sorted; `run` is the only thing on the hot path. `C`: the
 * context hook calls run with, which each link receives as `ctx.call`.
 */
export class HookChains<C extends CallContext = CallContext> {
  readonly #links = new Map<string, HookLink<HookPoint, C>>();
  readonly #builtin = new Set<string>();
  #chains: Record<HookPoint, readonly HookLink<HookPoint, C>[]> = {
    pre_tool: [],
    post_tool: [],
    user_prompt: [],
  };

  /** The built-in links can be neither replaced nor removed. */
  constructor(builtins: readonly HookLink<HookPoint, C>[] = []) {
    for (const link of builtins) {
      this.register(link);
      this.#builtin.add(link.name);
    }
  }

  /** Adds a link; CONFLICT when one of that name is registered (unregister it first to replace it). */
  register(link: HookLink<HookPoint, C>): void {
    if (!isHookLink(link)) {
      throw new AppError("VALIDATION", "not a hook link: make it with defineHookLink");
    }
    if (this.#links.has(link.name)) {
      throw new AppError("CONFLICT", `a hook link named ${link.name} is already registered`, {
        link: link.name,
      });
    }
    this.#links.set(link.name, link);
    this.#sort(link.hook);
  }

  /** Removes a link; false when there is none of that name. A built-in link is CONFLICT. */
  unregister(name: string): boolean {
    if (this.#builtin.has(name)) {
      throw new AppError("CONFLICT", `${name} is a built-in hook link and cannot be removed`, { link: name });
    }
    const link = this.#links.get(name);
    if (!link) return false;
    this.#links.delete(name);
    this.#sort(link.hook);
    return true;
  }

  /** The links of a point, in the order they run. */
  chain(point: HookPoint): readonly HookLink<HookPoint, C>[] {
    return this.#chains[point];
  }

  #sort(point: HookPoint): void {
    this.#chains = {
      ...this.#chains,
      [point]: [...this.#links.values()]
        .filter((l) => l.hook === point)
        .sort((a, b) => b.priority - a.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    };
  }

  /** Runs the chain of `point` over `input` for the hook call `call`. */
  async run<P extends HookPoint>(
    point: P,
    input: HookPoints[P]["input"],
    call: C,
  ): Promise<ChainDecision<P>> {
    const chain = this.#chains[point];
    const links: LinkRecord[] = [];
    const warnings: string[] = [];
    const context: string[] = [];
    const modified: { reason: string; rule: string }[] = [];
    const warned: { reason: string; rule: string }[] = [];
    let ask: { reason: string; rule: string } | null = null;
    let current = input;
    const tool = (input as { tool?: string }).tool ?? "";
    for (const link of chain) {
      if (link.tools && !link.tools.test(tool)) continue;
      const started = performance.now();
      let verdict: AnyVerdict | string;
      let outcome = "error";
      try {
        const result = runLink(link, current, new LinkContext(point, link.name, call));
        verdict = checkVerdict(point, result instanceof Promise ? await result : result);
      } catch (err) {
        if (err instanceof LinkTimeout) outcome = "timeout";
        verdict =
          outcome === "timeout" ? (err as Error).message : `failed: ${(err as Error)?.message ?? err}`;
      }
      const ms = round(performance.now() - started);
      if (typeof verdict === "string") {
        links.push({ name: link.name, outcome, ms, error: verdict });
        call.log.warn({ hookLink: link.name, hook: point, problem: verdict }, "hook link failed");
        // Before a tool runs a broken link must not let the call through unseen: a person decides.
        if (point === "pre_tool") ask ??= { reason: `hook link ${link.name} ${verdict}`, rule: link.name };
        continue;
      }
      links.push({ name: link.name, outcome: verdict.decision, ms });
      const rule = verdict.rule ?? link.name;
      const reason = verdict.reason ?? `${link.name}: ${verdict.decision}`;
      const { findings } = verdict as PreToolVerdict;
      if (findings) {
        for (const f of findings) if (f.decision === "warn") warnings.push(f.reason);
      } else if (verdict.decision === "warn" || verdict.decision === "modify") {
        warnings.push(reason);
      }
      if (verdict.decision === STOP[point]) {
        const { decision } = verdict;
        return {
          decision,
          reason,
          rule,
          updatedInput: undefined,
          additionalContext: undefined,
          warnings,
          links,
        };
      }
      if (verdict.additionalContext) context.push(verdict.additionalContext);
      else if (verdict.decision === "warn") context.push(reason);
      switch (verdict.decision) {
        case "ask":
          ask ??= { reason, rule };
          break;
        case "modify":
          modified.push({ reason, rule });
          current = { ...current, input: (verdict as PreToolVerdict).updatedInput } as typeof current;
          break;
        case "warn":
          warned.push({ reason, rule });
          break;
      }
    }
    // One object literal of one shape (no spreads): on Node 20 a spread followed by more
    // properties builds a fresh hidden class per call (see core/dispatch.ts), and this runs per tool call.
    const decided = (decision: string, reason: string, rule: string | null) =>
      ({
        decision,
        reason,
        rule,
        updatedInput: modified.length ? (current as HookPoints["pre_tool"]["input"]).input : undefined,
        additionalContext: context.length ? context.join("\n") : undefined,
        warnings,
        links,
      }) as ChainDecision<P>;
    if (ask) return decided("ask", ask.reason, ask.rule);
    const joined = (list: { reason: string; rule: string }[], decision: string) =>
      decided(decision, list.map((m) => m.reason).join("; "), list.map((m) => m.rule).join(", "));
    if (modified.length) return joined(modified, "modify");
    if (warned.length) return joined(warned, "warn");
    if (context.length) return decided("warn", context.join("; "), null);
    return decided("allow", "no rule matched", null);
  }
}
