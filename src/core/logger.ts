import { pino } from "pino";

export type Logger = pino.Logger;

/** Structured JSON logs on stderr, so stdout stays free for CLI output and hook answers. */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings } }, pino.destination({ fd: 2, sync: false }));
}
