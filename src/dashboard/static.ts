import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join } from "node:path";

/**
 * The dashboard's files (`npm run build` bundles them into dist/dashboard/public). `GET /`
 * is the page, `GET /ui/<name>` its assets. Only the names found in that directory when the
 * server first serves the dashboard exist: a request names a file, never a path, so nothing
 * outside the directory can be reached. The page is public (it holds no data); every call it
 * makes carries the token.
 */

/** From src/dashboard (tsx) and from dist/dashboard (built), the same directory. */
const PUBLIC_DIR = join(import.meta.dirname, "..", "..", "dist", "dashboard", "public");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".map": "application/json",
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

let assets: Map<string, Asset> | undefined;

function load(dir: string): Map<string, Asset> {
  const found = new Map<string, Asset>();
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return found; // not built: every request answers 503 below
  }
  for (const name of names) {
    const type = TYPES[extname(name)];
    if (!type) continue;
    const body = readFileSync(join(dir, name));
    found.set(name, {
      body,
      type,
      etag: `"${createHash("sha256").update(body).digest("hex").slice(0, 16)}"`,
    });
  }
  return found;
}

/**
 * True when `path` is the dashboard's (`/`, `/ui/...`), which this then answers.
 * `/ui/config.json` tells the page whether to ask for the token before its first call (a
 * refused call would log an error in the browser's console).
 */
export function serveDashboard(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  config: { auth: boolean },
): boolean {
  if (req.method !== "GET" && req.method !== "HEAD") return false;
  const name = path === "/" ? "index.html" : path.startsWith("/ui/") ? path.slice(4) : undefined;
  if (name === undefined) return false;
  if (name === "config.json") {
    res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(JSON.stringify(config));
    return true;
  }
  assets ??= load(PUBLIC_DIR);
  if (assets.size === 0) {
    res.writeHead(503, { "content-type": "text/plain; charset=utf-8" });
    res.end("The dashboard is not built: run `npm run build`.\n");
    return true;
  }
  const asset = assets.get(name);
  if (!asset) {
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
    res.end("Not found\n");
    return true;
  }
  // Names are stable across releases: the browser revalidates each time (a 304 costs little).
  const headers = {
    "content-type": asset.type,
    "cache-control": "no-cache",
    etag: asset.etag,
    "x-content-type-options": "nosniff",
    ...(name === "index.html"
      ? {
          "content-security-policy":
            "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
        }
      : {}),
  };
  if (req.headers["if-none-match"] === asset.etag) {
    res.writeHead(304, headers);
    res.end();
    return true;
  }
  res.writeHead(200, { ...headers, "content-length": asset.body.length });
  res.end(req.method === "HEAD" ? undefined : asset.body);
  return true;
}
