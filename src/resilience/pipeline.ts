import type { Middleware } from "../core/dispatch.js";
import type { AnyHandler } from "../core/handler.js";
import type { EffectivePolicy } from "./policy.js";

/**
 * One concern of the resilience pipeline (rate limit, cache, concurrency limit, circuit
 * breaker): the middleware it puts in front of one method under that method's policy.
 */
export interface PolicyMiddleware {
  /** The middleware enforcing this concern for `method`; null when `policy` asks nothing of it. */
  forMethod(method: string, policy: EffectivePolicy): Middleware | null;
  /** Called with every policy in force, before `forMethod`, whenever the handlers served change. */
  configure?(policies: ReadonlyMap<string, EffectivePolicy>): void;
}

/**
 * Enforces each handler's resolved policy through the concerns it is given, outermost first,
 * the same way on every transport. Each method's chain is built when the policies change, of
 * only the concerns its policy asks for, so that a call costs one lookup and the middleware
 * that apply to it: no closures per call for the concerns that do not (with the default
 * policy, a circuit breaker alone, the chain is the breaker's middleware itself).
 */
export class ResiliencePipeline {
  #policies: ReadonlyMap<string, EffectivePolicy> = new Map();
  #chains: ReadonlyMap<string, Middleware> = new Map();

  constructor(
    private readonly concerns: readonly PolicyMiddleware[],
    policies: ReadonlyMap<string, EffectivePolicy>,
  ) {
    this.setPolicies(policies);
  }

  /** Enforces these policies from now on (the handlers served changed); calls running keep theirs. */
  setPolicies(policies: ReadonlyMap<string, EffectivePolicy>): void {
    for (const concern of this.concerns) concern.configure?.(policies);
    const chains = new Map<string, Middleware>();
    for (const [method, policy] of policies) {
      const applying: Middleware[] = [];
      for (const concern of this.concerns) {
        const middleware = concern.forMethod(method, policy);
        if (middleware) applying.push(middleware);
      }
      const chain = applying.reduceRight<Middleware | null>(
        (inner, outer) =>
          inner ? (invocation, next) => outer(invocation, () => inner(invocation, next)) : outer,
        null,
      );
      if (chain) chains.set(method, chain);
    }
    this.#policies = policies;
    this.#chains = chains;
  }

  /** The dispatcher's timeout for a handler (0: none). */
  timeoutFor = (handler: AnyHandler): number => this.#policies.get(handler.name)?.timeoutMs ?? 0;

  middleware: Middleware = (invocation, next) => {
    const chain = this.#chains.get(invocation.handler.name);
    return chain ? chain(invocation, next) : next();
  };
}
