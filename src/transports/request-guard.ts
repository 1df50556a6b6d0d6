import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";
import { AppError } from "../core/errors.js";

/**
 * Who may reach the server from a browser. A web page the user visits can send requests to
 * 127.0.0.1 (cross-site request forgery) and, by pointing its own DNS name at 127.0.0.1 (DNS
 * rebinding), even read the answers. The checks, for every request and WebSocket upgrade:
 *
 * - `Host` must be an IP address, a loopback name (`localhost`, `*.localhost`) or a name
 *   listed in ALLOWED_HOSTS. Rebinding needs a name the attacker's DNS answers for: a browser
 *   that sends an IP address as Host was pointed at that address itself, and then its page's
 *   Origin is refused below (peers probing `/health` and load balancers use addresses). With
 *   an auth token the check is off unless ALLOWED_HOSTS is set: a rebound page has no token,
 *   and a server bound to a routable address is reached under names it cannot know.
 * - An `Origin`, when the client sends one (browsers do on every cross-site request, every
 *   POST and every WebSocket), must be the server's own (`http(s)://<Host>`) or listed in
 *   ALLOWED_ORIGINS. `Origin: null` (sandboxed frames, files) is refused.
 *
 * JSON endpoints also require `Content-Type: application/json` (isJsonContentType): a page can
 * send text/plain, form and multipart bodies without asking the browser first, never JSON.
 */

interface RequestGuardOptions {
  /** Host names (no port) accepted besides loopback; `*` accepts any. */
  allowedHosts: readonly string[];
  /** Origins (`scheme://host[:port]`) accepted besides the server's own; `*` accepts any. */
  allowedOrigins: readonly string[];
  /** An auth token is required: then Host is checked only when allowedHosts is given. */
  authRequired: boolean;
}

/** The host name of a `Host` header, lower case, without port or IPv6 brackets. */
function hostName(host: string): string {
  const lower = host.trim().toLowerCase();
  if (lower.startsWith("[")) {
    const end = lower.indexOf("]");
    return end < 0 ? lower.slice(1) : lower.slice(1, end);
  }
  const colon = lower.indexOf(":");
  return colon < 0 ? lower : lower.slice(0, colon);
}

/** Names no DNS server of an attacker can answer for. */
function isAddressOrLoopback(name: string): boolean {
  return name === "localhost" || name.endsWith(".localhost") || isIP(name) !== 0;
}

/** An origin as browsers send it: lower case, no trailing slash, no default port. */
function normalOrigin(origin: string): string {
  return origin
    .trim()
    .toLowerCase()
    .replace(/\/+$/, "")
    .replace(/^(http:\/\/[^/]+):80$|^(https:\/\/[^/]+):443$/, "$1$2");
}

const forbidden = (message: string, data: Record<string, unknown>) =>
  new AppError("UNAUTHORIZED", message, data);

export class RequestGuard {
  readonly #hosts: ReadonlySet<string>;
  readonly #origins: ReadonlySet<string>;
  readonly #checkHost: boolean;

  constructor(options: RequestGuardOptions) {
    this.#hosts = new Set(options.allowedHosts.map(hostName));
    this.#origins = new Set(options.allowedOrigins.map(normalOrigin));
    this.#checkHost = !options.authRequired || options.allowedHosts.length > 0;
  }

  /** The reason to refuse the request (answered with 403), or null to go on. */
  check(req: IncomingMessage): AppError | null {
    const host = req.headers.host;
    if (this.#checkHost && host !== undefined && !this.#hostAllowed(hostName(host))) {
      return forbidden(
        `Host ${JSON.stringify(host)} is not this server's: use its address or localhost, or add the name to ALLOWED_HOSTS`,
        { host },
      );
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !this.#originAllowed(origin.toLowerCase(), host?.toLowerCase())) {
      return forbidden(
        `Origin ${JSON.stringify(origin)} may not call this server: add it to ALLOWED_ORIGINS if it should`,
        { origin },
      );
    }
    return null;
  }

  #hostAllowed(name: string): boolean {
    return isAddressOrLoopback(name) || this.#hosts.has(name) || this.#hosts.has("*");
  }

  #originAllowed(origin: string, host: string | undefined): boolean {
    if (this.#origins.has(origin) || this.#origins.has("*")) return true;
    return host !== undefined && (origin === `http://${host}` || origin === `https://${host}`);
  }
}

/** `application/json` or a `+json` type, with or without parameters (`; charset=utf-8`). */
export function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  const type = header.split(";", 1)[0]?.trim().toLowerCase() ?? "";
  return type === "application/json" || (type.startsWith("application/") && type.endsWith("+json"));
}

/** The request's target as a URL, or null when it does not parse (`GET //[`): answer 400. */
export function requestTarget(raw: string | undefined): URL | null {
  try {
    return new URL(raw ?? "/", "http://localhost");
  } catch {
    return null;
  }
}
