import type { CallContext } from "../../core/context.js";
import { AppError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import { isValidHandlerName } from "../../core/naming.js";
import type { Finding } from "../../domain/policy/builtin-rules.js";
import { globRegex } from "../../domain/policy/builtin-rules.js";
import type { Decision } from "../../domain/policy/engine.js";

/**
 * One link of a hook chain: a named step with a priority that looks at a pre-tool call, a
 * finished tool call or a prompt and says what it thinks (see chain.ts for how the verdicts of
 * a chain combine). A plain value made by `defineHookLink`, like a handler.
 */

/**
 * The brand of a hook link: how the plugin loader tells a link from the other values a plugin
 * file exports. `Symbol.for`, so a plugin that brings its own copy of the package is recognised too.
 */
const HOOK_LINK: unique symbol = Symbol.for("claudebench.hookLink") as never;

/** A tool call as Claude Code is about to make it. */
export interface PreToolInput {
  tool: string;
  /** The tool input, as modified by the links that ran before this one. */
  input: Record<string, unknown>;
  /** The session's working directory (the project). */
  cwd?: string;
  sessionId?: string;
  instanceId?: string;
}

/** A tool call that has run. */
export interface PostToolInput {
  tool: string;
  input: Record<string, unknown>;
  /** What the tool answered. */
  response: unknown;
  success?: boolean;
  cwd?: string;
  sessionId?: string;
  instanceId?: string;
}

/** A prompt a person submitted, before the model sees it. */
export interface PromptInput {
  prompt: string;
  cwd?: string;
  sessionId?: string;
  instanceId?: string;
}

/** The pre-tool vocabulary is the policy engine's: deny > ask > modify > warn > allow. */
export interface PreToolVerdict {
  decision: Decision;
  /** Why; shown to the person and the model for deny / ask, recorded for all. */
  reason?: string;
  /** What decided (a rule id); the link's name when absent. */
  rule?: string | null;
  /** For `modify`: the whole replacement tool input (later links see it). */
  updatedInput?: Record<string, unknown>;
  /** Context for the model; accumulates over the chain. */
  additionalContext?: string;
  /** The individual rule findings behind the verdict (the built-in engine's); their warnings are reported. */
  findings?: Finding[];
}

/**
 * After a tool ran and before a prompt reaches the model there is nothing to ask or rewrite:
 * `block` (Claude Code's word for these events: the reason goes to the model, a prompt is
 * erased), `warn` (context for the model) or `allow`.
 */
export interface ReportVerdict {
  decision: "block" | "warn" | "allow";
  reason?: string;
  rule?: string | null;
  additionalContext?: string;
}

/** Each hook point: what its links see and may answer. */
export interface HookPoints {
  pre_tool: { input: PreToolInput; verdict: PreToolVerdict };
  post_tool: { input: PostToolInput; verdict: ReportVerdict };
  user_prompt: { input: PromptInput; verdict: ReportVerdict };
}

export type HookPoint = keyof HookPoints;

export const HOOK_POINTS: readonly HookPoint[] = ["pre_tool", "post_tool", "user_prompt"];

/** What a link's `run` receives besides the input. */
/** `C`: the context of the hook call (the server's handler context; the kernel's CallContext at least). */
export interface HookLinkContext<C extends CallContext = CallContext> {
  readonly hook: HookPoint;
  /** The link's name. */
  readonly link: string;
  /** Aborted when the link's time is up: stop waiting on anything slow. */
  readonly signal: AbortSignal;
  /** The hook call's logger. */
  readonly log: Logger;
  /** The hook call's context: Redis, `emit`, `invoke`, the project policies, the caller's metadata. */
  readonly call: C;
}

/** Returning nothing means allow (no opinion). */
type LinkResult<P extends HookPoint> =
  // biome-ignore lint/suspicious/noConfusingVoidType: a link that returns nothing (`async () => {}`) allows
  HookPoints[P]["verdict"] | void | Promise<HookPoints[P]["verdict"] | void>;

export interface HookLinkDefinition<P extends HookPoint, C extends CallContext = CallContext> {
  /** `owner.what` in lower case, e.g. `acme.no_friday_deploys`; unique in the server. */
  name: string;
  hook: P;
  /** Higher runs first; links of equal priority run in name order. The built-in links are 0. */
  priority: number;
  /** Only for these tools (globs: `Bash`, `mcp__*`); every tool when absent. Not for `user_prompt`. */
  match?: { tools?: string[] };
  /** How long the link may take, in ms (default 1000, at most 60000). */
  timeoutMs?: number;
  run(input: HookPoints[P]["input"], ctx: HookLinkContext<C>): LinkResult<P>;
}

export interface HookLink<P extends HookPoint = HookPoint, C extends CallContext = CallContext> {
  readonly [HOOK_LINK]: true;
  readonly name: string;
  readonly hook: P;
  readonly priority: number;
  readonly match?: { readonly tools?: readonly string[] };
  readonly timeoutMs: number;
  /** The `match.tools` globs as one expression (null: every tool). */
  readonly tools: RegExp | null;
  run(input: HookPoints[P]["input"], ctx: HookLinkContext<C>): LinkResult<P>;
}

const DEFAULT_LINK_TIMEOUT_MS = 1000;
const MAX_LINK_TIMEOUT_MS = 60_000;

const invalid = (name: unknown, problem: string) =>
  new AppError("VALIDATION", `hook link ${JSON.stringify(name)}: ${problem}`, { link: name });

/** Checks a definition and fills in the defaults. Throws VALIDATION naming what is wrong. */
export function defineHookLink<P extends HookPoint, C extends CallContext = CallContext>(
  def: HookLinkDefinition<P, C>,
): HookLink<P, C> {
  const { name, hook, priority, match, timeoutMs = DEFAULT_LINK_TIMEOUT_MS, run } = def;
  if (typeof name !== "string" || !isValidHandlerName(name)) {
    throw invalid(name, "the name must be lower-case dotted segments, e.g. acme.no_friday_deploys");
  }
  if (!HOOK_POINTS.includes(hook)) throw invalid(name, `hook must be one of ${HOOK_POINTS.join(", ")}`);
  if (typeof priority !== "number" || !Number.isFinite(priority)) {
    throw invalid(name, "priority must be a finite number");
  }
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_LINK_TIMEOUT_MS) {
    throw invalid(name, `timeoutMs must be a whole number of ms, 1..${MAX_LINK_TIMEOUT_MS}`);
  }
  if (typeof run !== "function") throw invalid(name, "run must be a function");
  const tools = match?.tools;
  if (tools !== undefined) {
    if (hook === "user_prompt") throw invalid(name, "match.tools does not apply to user_prompt");
    if (!Array.isArray(tools) || tools.length === 0 || !tools.every((t) => typeof t === "string" && t)) {
      throw invalid(name, "match.tools must be a non-empty list of tool name globs");
    }
  }
  return Object.freeze({
    [HOOK_LINK]: true as const,
    name,
    hook,
    priority,
    ...(match ? { match } : {}),
    timeoutMs,
    tools: tools ? new RegExp(tools.map((t) => globRegex(t).source).join("|")) : null,
    run,
  });
}

/** Whether a value was made by `defineHookLink` (for the plugin loader). */
export function isHookLink(value: unknown): value is HookLink {
  return typeof value === "object" && value !== null && (value as HookLink)[HOOK_LINK] === true;
}
