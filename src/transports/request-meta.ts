import type { RequestMeta } from "../core/context.js";

/** Header values as node:http and the MCP SDK both hand them over (names in lower case). */
export type HeaderRecord = Record<string, string | string[] | undefined>;

/** Who is calling, from the `x-*` headers, and the connection's address (never from a header). */
export function requestMeta(headers: HeaderRecord, remoteAddress: string | undefined): RequestMeta {
  const meta: RequestMeta = {};
  if (typeof headers["x-session-id"] === "string") meta.sessionId = headers["x-session-id"];
  if (typeof headers["x-instance-id"] === "string") meta.instanceId = headers["x-instance-id"];
  if (typeof headers["x-correlation-id"] === "string") meta.correlationId = headers["x-correlation-id"];
  if (typeof headers["x-request-id"] === "string") meta.requestId = headers["x-request-id"];
  if (remoteAddress) meta.remoteAddress = remoteAddress;
  return meta;
}
