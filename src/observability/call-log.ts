import type { Middleware } from "../core/dispatch.js";
import { AppError } from "../core/errors.js";

/**
 * One debug line per call, through the call's own logger (request id, method, transport,
 * session, instance). Installed only when the log level is debug or finer, so it costs
 * nothing otherwise.
 */
export const callLog: Middleware = async ({ ctx }, next) => {
  const started = performance.now();
  try {
    const result = await next();
    ctx.log.debug({ ms: Math.round((performance.now() - started) * 1000) / 1000, outcome: "ok" }, "call");
    return result;
  } catch (err) {
    const outcome = err instanceof AppError ? err.code : "INTERNAL";
    ctx.log.debug({ ms: Math.round((performance.now() - started) * 1000) / 1000, outcome }, "call");
    throw err;
  }
};
