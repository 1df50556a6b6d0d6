import { pino } from "pino";

export type Logger = pino.Logger;

/**
 * Holds back warnings and errors that say nothing new: while Redis is unreachable every
 * background loop fails each time it runs, and the outage is logged once instead (RedisLink).
 * Made with the logger; the server sets its rule once it has a Redis connection.
 */
export class LogFilter {
  /** True for the fields of a line to hold back. */
  holdBack: ((fields: Record<string, unknown>) => boolean) | null = null;
}

const WARN = 40;

/** Structured JSON logs on stderr, so stdout stays free for CLI output and hook answers. */
export function createLogger(
  level: string,
  bindings: Record<string, unknown> = {},
  filter?: LogFilter,
): Logger {
  const hooks: pino.LoggerOptions["hooks"] = filter && {
    logMethod(args, method, lineLevel) {
      const [fields] = args as unknown[];
      const held =
        lineLevel >= WARN &&
        typeof fields === "object" &&
        fields !== null &&
        filter.holdBack?.(fields as Record<string, unknown>);
      if (!held) method.apply(this, args);
    },
  };
  return pino(
    { level, base: { pid: process.pid, ...bindings }, ...(hooks ? { hooks } : {}) },
    pino.destination({ fd: 2, sync: false }),
  );
}
