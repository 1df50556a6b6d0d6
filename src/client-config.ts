/**
 * The settings of the CLI's client commands (task, worker, relay, init): which server, which
 * token, whether to colour. Kept apart from src/config.ts, the server's settings, and free of
 * Zod: a client command is started for one call and must not pay for loading the validation
 * library (about 130 ms) — docs/performance.md, "CLI start-up". Like src/config.ts, the only
 * place that reads these environment variables.
 */

/** A setting that cannot be used; each problem names the setting and its environment variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

export const blankToUndefined = (v: string | undefined) => (v === undefined || v === "" ? undefined : v);

/** The entries of a comma-separated list, trimmed, empty ones dropped. */
export const commaList = (text: string) =>
  text
    .split(",")
    .map((v) => v.trim())
    .filter(Boolean);

interface ClientConfig {
  /** One server, or several of one cluster (same Redis) that a client fails over between, in order. */
  urls: [string, ...string[]];
  token?: string;
}

/**
 * Where the CLI's client commands (task, worker) find the server: flags, else env, else localhost.
 * `--url` may be repeated and each value, like CLAUDEBENCH_URL, may be a comma-separated list:
 * servers of one cluster, tried in that order.
 */
export function loadClientConfig(
  flags: { url?: string | string[]; token?: string },
  env: NodeJS.ProcessEnv = process.env,
): ClientConfig {
  const given = [flags.url ?? []].flat().join(",");
  const list =
    blankToUndefined(given) ??
    blankToUndefined(env.CLAUDEBENCH_URL) ??
    `http://127.0.0.1:${blankToUndefined(env.PORT) ?? 3000}`;
  const urls = commaList(list);
  const bad = urls.filter((u) => !/^https?:\/\/[^/]+/.test(u));
  if (urls.length === 0 || bad.length > 0) {
    throw new ConfigError([
      `url (CLAUDEBENCH_URL) = ${JSON.stringify(list)}: each URL must start with http:// or https://`,
    ]);
  }
  const token = flags.token ?? blankToUndefined(env.CLAUDEBENCH_TOKEN) ?? blankToUndefined(env.AUTH_TOKEN);
  const servers = urls as [string, ...string[]];
  return token ? { urls: servers, token } : { urls: servers };
}

/** Whether to colour a terminal's output: only on a TTY, and never when NO_COLOR is set (no-color.org). */
export const wantsColour = (isTTY: boolean | undefined, env: NodeJS.ProcessEnv = process.env) =>
  isTTY === true && blankToUndefined(env.NO_COLOR) === undefined;
