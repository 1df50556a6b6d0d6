import {
  deepJson,
  type FuzzedParams,
  fuzzParams,
  LARGE,
  ODD_STRINGS,
  OVER_DEPTH,
  plausibleValue,
  Raw,
  type Rng,
  type Schema,
  SMALL,
  toJson,
} from "./fuzz.js";

/**
 * The fuzz test's cases (test/e2e/fuzz.test.ts): one HTTP request each, built from the methods
 * a running server reports (system.discover), so that a method added later is fuzzed too.
 * Every call a case makes is certain to be refused unless its method is read-only: the test
 * can then demand that the stored tasks did not change.
 */

export interface FuzzMethod {
  name: string;
  input: Schema;
  /** MCP annotations say readOnlyHint: a call may succeed and change nothing. */
  readOnly: boolean;
  httpPath: string | null;
  mcpTool: string | null;
  transports: string[];
}

export interface FuzzServer {
  name: string;
  port: number;
  token?: string;
}

export interface RequestSpec {
  method: string;
  target: string;
  headers: [string, string][];
  body?: Buffer | string;
  /** Half-close the connection after writing (a client gone in the middle of its request). */
  endAfterWrite?: boolean;
}

/** How to read the answer: a JSON-RPC body, a route's, MCP's, an event subscription, anything else. */
export type AnswerKind = "rpc" | "route" | "mcp" | "subscribe" | "other";

export interface FuzzCase {
  index: number;
  family: string;
  server: FuzzServer;
  request: RequestSpec;
  kind: AnswerKind;
  /** Any success is a failure: a 2xx route answer, an MCP tool result that is not an error. */
  mustRefuse: boolean;
  /** JSON-RPC: ids of the entries that may succeed (read-only calls whose params may be valid). */
  mayAccept: unknown[];
  /** `method/transport` pairs this case sends a call to, for the coverage check. */
  covers: string[];
  notes: string[];
}

export interface FuzzContext {
  methods: FuzzMethod[];
  servers: FuzzServer[];
  maxBodyBytes: number;
  maxBatch: number;
}

const JSON_TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "Application/JSON",
  "application/vnd.fuzz+json",
  'application/json;charset="utf-8"',
];
const NOT_JSON_TYPES = [
  "text/plain",
  "text/plain;charset=UTF-8",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/jsonx",
  "application/json-seq",
  "json",
  "",
  "application/json, text/plain",
  "*/*",
  "application/xml",
  "application/ json",
];
const MCP_ACCEPT = "application/json, text/event-stream";

const ODD_IDS: readonly unknown[] = [
  {},
  [],
  [1],
  true,
  new Raw("1e400"),
  new Raw("-0"),
  1.5,
  -1,
  "",
  "x".repeat(1000),
  "\ud800",
  null,
];

/** Method names that resolve to nothing, to a catch-all (`hook.x`), or are not strings at all. */
const ODD_METHODS: readonly unknown[] = [
  "",
  " ",
  "task.create ",
  "Task.Create",
  "task..create",
  "task.",
  ".task",
  "task/create",
  "task__create",
  "constructor",
  "__proto__",
  "toString",
  "hasOwnProperty",
  "system.discover.extra",
  "hook",
  "hook.",
  "hook.x",
  "hook.x.y.z",
  "hook.__proto__",
  "hook.constructor",
  "hook.pre_tool.extra",
  "rpc.discover",
  "m".repeat(10_000),
  5,
  null,
  [],
  {},
  true,
];

/** Bodies that are JSON but never an object: every route refuses them. (`null` and `{}` are not among them: a route may read them as no params.) */
const NON_OBJECT_BODIES = ["5", "true", '"x"', "[]", "[1]", "[{}]", "1e400", '"\\u0000"', "-0"];
/** Bodies that are not JSON. */
const NOT_JSON_BODIES = [
  "-",
  "{",
  "[",
  '"',
  "{'a':1}",
  "{a:1}",
  "[1,]",
  "{/*c*/}",
  "NaN",
  "undefined",
  "\u0000",
];

/** Stream ids `/events` and `/ws` must refuse to resume after. */
const BAD_EVENT_IDS = [
  "99999999999999999999999-0",
  "18446744073709551616-0",
  "18446744073709551615-18446744073709551615",
  "0-18446744073709551616",
  "-1",
  "-1-0",
  "abc",
  "1-2-3",
  "",
  " ",
  "1",
  "1-",
  "-0",
  "0x10-0",
  "1.5-0",
  "１-0",
  `${"9".repeat(5000)}-0`,
  `1-${"9".repeat(30)}`,
  "1 -0",
  "1-0 ",
  "$",
  "0-0\n",
  "*",
  "+",
  "%",
];

/** Filter values `/events` and `/ws` must refuse, by parameter. */
const BAD_FILTERS: Record<string, readonly string[]> = {
  prefix: ["has space", "p".repeat(129), "task.*", "é", "a/b", "\u0000"],
  task: ["42", "t-", "t-1a", "T-1", "t-1 t-2", "t-1,42", "t-0x1"],
  instance: ["a b", "i".repeat(129), "ü", "a;b", "w-1,a b"],
  session: ["a b", "s".repeat(201), "\u0001", "s\u0085"],
};
const GOOD_FILTERS: Record<string, readonly string[]> = {
  prefix: ["task.", "hook.pre", "system."],
  task: ["t-1", "t-999999999"],
  instance: ["w-1", "fuzz-holder"],
  session: ["s-1", "0f8fad5b-d9cb-469f-a165-70867728950e"],
};
/** Unknown to both endpoints; `/events` also refuses `token` (only `/ws` reads it). */
const UNKNOWN_PARAMS = [
  "x",
  "lasteventid",
  "Prefix",
  "prefix[]",
  "",
  "__proto__",
  "constructor",
  "toString",
  "filter",
];

/** Percent-encoded; a lone surrogate as the bytes of one (ED A0 80: not UTF-8). */
const LONE_SURROGATE = /([\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff])/;
const pct = (s: string) =>
  s
    .split(LONE_SURROGATE)
    .map((part, i) => (i % 2 === 1 ? "%ED%A0%80" : encodeURIComponent(part)))
    .join("");

function baseHeaders(server: FuzzServer, contentType?: string): [string, string][] {
  const headers: [string, string][] = [["Host", `127.0.0.1:${server.port}`]];
  if (server.token) headers.push(["Authorization", `Bearer ${server.token}`]);
  if (contentType !== undefined) headers.push(["Content-Type", contentType]);
  return headers;
}

const withoutHeader = (headers: [string, string][], name: string) =>
  headers.filter(([n]) => n.toLowerCase() !== name.toLowerCase());

function setHeader(headers: [string, string][], name: string, value: string): [string, string][] {
  return [...withoutHeader(headers, name), [name, value]];
}

interface Call {
  /** The JSON-RPC request object (may hold Raw parts). */
  entry: Record<string, unknown>;
  /** The entry may succeed (then its id is in mayAccept). */
  mayAccept: boolean;
  notes: string[];
  covers: string[];
}

/** A random case generator's view of the run. */
class Builder {
  readonly rpcMethods: FuzzMethod[];
  readonly routeMethods: FuzzMethod[];
  readonly toolMethods: FuzzMethod[];
  /** The schema an unknown `hook.*` name is served by (the domain's catch-all), if any. */
  readonly catchAllSchema: Schema;

  constructor(
    readonly r: Rng,
    readonly ctx: FuzzContext,
  ) {
    this.rpcMethods = ctx.methods.filter((m) => m.transports.includes("jsonrpc"));
    this.routeMethods = ctx.methods.filter((m) => m.transports.includes("http") && m.httpPath);
    this.toolMethods = ctx.methods.filter((m) => m.transports.includes("mcp") && m.mcpTool);
    this.catchAllSchema = ctx.methods.find((m) => m.name === "hook.event")?.input ?? { type: "object" };
  }

  server(): FuzzServer {
    return this.r.pick(this.ctx.servers);
  }

  /** The tool name a method kept from models would have (`hook.pre_tool` → `hook__pre_tool`). */
  hiddenTool(): string {
    const hidden = this.ctx.methods.filter((m) => !m.mcpTool);
    return hidden.length > 0 ? this.r.pick(hidden).name.split(".").join("__") : "none__such";
  }

  params(method: FuzzMethod, mustRefuse = !method.readOnly, limits = LARGE): FuzzedParams {
    return fuzzParams(this.r, method.input, { mustRefuse, limits });
  }

  /** One JSON-RPC request for `method`, its envelope mutated now and then. */
  call(method: FuzzMethod, id: number, { forceRefusal = false, limits = LARGE } = {}): Call {
    const { r } = this;
    const params = this.params(method, forceRefusal || !method.readOnly, limits);
    const entry: Record<string, unknown> = { jsonrpc: "2.0", id, method: method.name, params: params.value };
    const notes = [`${method.name}`, ...params.notes];
    let mayAccept = method.readOnly && !params.refused;
    if (r.chance(0.3)) {
      const mutation = r.pick([
        "id",
        "notification",
        "jsonrpc",
        "method",
        "metadata",
        "extra",
        "paramsType",
      ] as const);
      notes.push(`envelope: ${mutation}`);
      switch (mutation) {
        case "id":
          entry.id = r.pick(ODD_IDS);
          break;
        case "notification":
          delete entry.id;
          break;
        case "jsonrpc":
          if (r.chance(0.2)) delete entry.jsonrpc;
          else entry.jsonrpc = r.pick(["1.0", 2, null, "2.0 ", "", "2"]);
          mayAccept = false;
          break;
        case "method": {
          entry.method = r.pick(ODD_METHODS);
          // A `hook.<anything>` name reaches the catch-all: its params must be refused there.
          entry.params = fuzzParams(r, this.catchAllSchema, { mustRefuse: true }).value;
          mayAccept = false;
          break;
        }
        case "metadata":
          entry.metadata = r.pick<unknown>([
            { sessionId: r.pick(ODD_STRINGS) },
            { sessionId: 5, instanceId: [], correlationId: {} },
            { correlationId: "c".repeat(5000) },
            [],
            "meta",
            null,
            deepJson(r, r.int(OVER_DEPTH, 5000)),
          ]);
          break;
        case "extra":
          entry.result = 1;
          entry.error = { code: -1, message: "injected" };
          Object.defineProperty(entry, "__proto__", { value: { polluted: true }, enumerable: true });
          break;
        case "paramsType":
          entry.params = r.pick<unknown>([[], [1, 2], "params", 5, null, true, new Raw("1e400")]);
          mayAccept = false;
          break;
      }
    }
    const covers = [`${method.name}/jsonrpc`];
    return { entry, mayAccept, notes, covers };
  }

  spec(method: string, target: string, headers: [string, string][], body?: Buffer | string): RequestSpec {
    return body === undefined ? { method, target, headers } : { method, target, headers, body };
  }
}

type Draft = Omit<FuzzCase, "index" | "family" | "server"> & { server?: FuzzServer };

function rpcCase(b: Builder, method?: FuzzMethod): Draft {
  const { r } = b;
  const server = b.server();
  const call = b.call(method ?? r.pick(b.rpcMethods), 1);
  const path = r.chance(0.8) ? "/rpc" : "/rpc/batch";
  return {
    server,
    request: b.spec("POST", path, baseHeaders(server, r.pick(JSON_TYPES)), toJson(call.entry)),
    kind: "rpc",
    mustRefuse: false,
    mayAccept: call.mayAccept ? [call.entry.id] : [],
    covers: call.covers,
    notes: call.notes,
  };
}

function batchCase(b: Builder): Draft {
  const { r, ctx } = b;
  const server = b.server();
  const shape = r.weighted({ entries: 6, overLimit: 2, empty: 1, garbage: 2, nested: 1, deep: 1 });
  let body: string;
  const mayAccept: unknown[] = [];
  const covers: string[] = [];
  const notes = [`batch: ${shape}`];
  switch (shape) {
    case "entries": {
      const entries: unknown[] = [];
      const count = r.int(2, 10);
      for (let i = 0; i < count; i++) {
        if (r.chance(0.2)) {
          entries.push(r.pick<unknown>([5, "x", null, [], [[]], {}, { jsonrpc: "2.0" }, { id: i + 1 }]));
          continue;
        }
        const call = b.call(r.pick(b.rpcMethods), i + 1, { limits: SMALL });
        entries.push(call.entry);
        if (call.mayAccept) mayAccept.push(call.entry.id);
        covers.push(...call.covers);
        notes.push(call.notes.join(", "));
      }
      body = toJson(entries);
      break;
    }
    case "overLimit": {
      // Each entry is refused on its own too, should the limit fail.
      const count = ctx.maxBatch + r.int(1, 40);
      const method = r.pick(b.rpcMethods);
      const params = b.params(method, true, SMALL);
      body = toJson(
        Array.from({ length: count }, (_, i) => ({
          jsonrpc: "2.0",
          id: i + 1,
          method: method.name,
          params: params.value,
        })),
      );
      notes.push(`${count} × ${method.name}`, ...params.notes);
      break;
    }
    case "empty":
      body = "[]";
      break;
    case "garbage":
      body = toJson(
        Array.from({ length: r.int(1, 6) }, () => r.pick<unknown>([0, "", null, true, [], {}, [null], "[]"])),
      );
      break;
    case "nested":
      body = toJson([[b.call(r.pick(b.rpcMethods), 1, { forceRefusal: true, limits: SMALL }).entry], [[]]]);
      break;
    case "deep": {
      const deep = deepJson(r, r.int(OVER_DEPTH, 20_000));
      body = deep.text.startsWith("[") ? deep.text : `[${deep.text}]`;
      notes.push(`${deep.depth} deep`);
      break;
    }
  }
  return {
    server,
    request: b.spec("POST", r.pick(["/rpc", "/rpc/batch"]), baseHeaders(server, "application/json"), body),
    kind: "rpc",
    mustRefuse: false,
    mayAccept,
    covers,
    notes,
  };
}

function routeCase(b: Builder, method?: FuzzMethod): Draft {
  const { r } = b;
  const server = b.server();
  const m = method ?? r.pick(b.routeMethods);
  const params = b.params(m);
  const empty = m.readOnly && r.chance(0.1);
  const query = r.chance(0.1) ? `?${r.pick(["x=1", "a=%00", "", "?", `q=${"q".repeat(3000)}`])}` : "";
  return {
    server,
    request: b.spec(
      "POST",
      `${m.httpPath}${query}`,
      baseHeaders(server, r.pick(JSON_TYPES)),
      empty ? "" : toJson(params.value),
    ),
    kind: "route",
    mustRefuse: !m.readOnly || (!empty && params.refused),
    mayAccept: [],
    covers: [`${m.name}/http`],
    notes: [
      m.name,
      ...(empty ? ["empty body"] : params.notes),
      ...(query ? [`query ${query.slice(0, 40)}`] : []),
    ],
  };
}

function mcpHeaders(server: FuzzServer): [string, string][] {
  return [...baseHeaders(server, "application/json"), ["Accept", MCP_ACCEPT]];
}

function toolCase(b: Builder, method?: FuzzMethod): Draft {
  const { r } = b;
  const server = b.server();
  const m = method ?? r.pick(b.toolMethods);
  let args: unknown;
  let notes: string[];
  let refused: boolean;
  if (r.chance(0.1)) {
    args = r.pick<unknown>([[], "args", 5, null, true, [{}]]);
    notes = ["arguments not an object"];
    refused = true;
  } else {
    const params = b.params(m);
    args = params.value;
    notes = params.notes;
    refused = params.refused;
  }
  const message = {
    jsonrpc: "2.0",
    id: r.int(1, 1000),
    method: "tools/call",
    params: { name: m.mcpTool, arguments: args },
  };
  return {
    server,
    request: b.spec("POST", "/mcp", mcpHeaders(server), toJson(message)),
    kind: "mcp",
    mustRefuse: !m.readOnly || refused,
    mayAccept: [],
    covers: [`${m.name}/mcp`],
    notes: [m.name, ...notes],
  };
}

/** MCP itself: odd methods, names, resources, envelopes, headers and HTTP methods on /mcp. */
function mcpProtocolCase(b: Builder): Draft {
  const { r } = b;
  const server = b.server();
  const id = r.int(1, 1000);
  const message = (method: unknown, params?: unknown) =>
    params === undefined ? { jsonrpc: "2.0", id, method } : { jsonrpc: "2.0", id, method, params };
  const shape = r.weighted({
    toolName: 3,
    resource: 3,
    lists: 1,
    initialize: 1,
    unknownMethod: 1,
    notification: 1,
    envelope: 2,
    batch: 1,
    headers: 2,
    httpMethod: 2,
  });
  let headers = mcpHeaders(server);
  let body: unknown;
  let httpMethod = "POST";
  switch (shape) {
    case "toolName":
      body = message("tools/call", {
        name: r.pick<unknown>([
          5,
          null,
          {},
          [],
          "",
          "constructor",
          "__proto__",
          "toString",
          "task__create__",
          "task.create",
          "TASK__CREATE",
          "n".repeat(5000),
          "__",
          b.hiddenTool(),
        ]),
        arguments: r.pick<unknown>([{}, { text: 5 }, undefined]),
      });
      break;
    case "resource": {
      const odd = r.pick(ODD_STRINGS);
      body = message("resources/read", {
        uri: r.pick<unknown>([
          "claudebench://tasks/assigned/%E0%A4%A",
          "claudebench://tasks/assigned/%",
          "claudebench://tasks/assigned/%00",
          `claudebench://tasks/assigned/${odd}`,
          `claudebench://tasks/assigned/${pct(odd)}`,
          "claudebench://tasks/assigned/",
          "claudebench://tasks/assigned/a/b",
          "claudebench://tasks/pending/x",
          "claudebench://nope",
          "",
          5,
          null,
          `claudebench://tasks/assigned/${"w".repeat(5000)}`,
        ]),
      });
      break;
    }
    case "lists":
      body = message(
        r.pick(["tools/list", "resources/list", "resources/templates/list", "ping"]),
        r.pick<unknown>([
          { cursor: 5 },
          { cursor: r.pick(ODD_STRINGS) },
          [],
          "p",
          null,
          undefined,
          { _meta: deepJson(r, r.int(OVER_DEPTH, 5000)) },
        ]),
      );
      break;
    case "initialize":
      body = message(
        "initialize",
        r.pick<unknown>([
          { protocolVersion: 5 },
          { protocolVersion: "1900-01-01", capabilities: [], clientInfo: { name: 5 } },
          {},
          [],
          {
            protocolVersion: "2025-03-26",
            capabilities: {},
            clientInfo: { name: "x".repeat(5000), version: null },
          },
        ]),
      );
      break;
    case "unknownMethod":
      body = message(
        r.pick<unknown>([
          "prompts/list",
          "completion/complete",
          "logging/setLevel",
          "",
          5,
          "tools/call/",
          "rpc.discover",
          "tools/CALL",
        ]),
        { level: "x" },
      );
      break;
    case "notification":
      body = {
        jsonrpc: "2.0",
        method: r.pick([
          "notifications/initialized",
          "notifications/cancelled",
          "notifications/progress",
          "notifications/x",
        ]),
        params: r.pick<unknown>([{ requestId: {} }, { progressToken: [], progress: "x" }, {}, null]),
      };
      break;
    case "envelope":
      body = r.pick<unknown>([
        { jsonrpc: "1.0", id, method: "tools/list" },
        { jsonrpc: "2.0", id: {}, method: "tools/list" },
        { jsonrpc: "2.0", id: new Raw("1e400"), method: "tools/list" },
        { jsonrpc: "2.0", id: deepJson(r, r.int(OVER_DEPTH, 5000)), method: "tools/list" },
        { jsonrpc: "2.0", id },
        { jsonrpc: "2.0", id, result: {} },
        { jsonrpc: "2.0", id, error: { code: "x" } },
        { jsonrpc: "2.0", id, method: "tools/call", params: deepJson(r, r.int(OVER_DEPTH, 5000)) },
      ]);
      break;
    case "batch":
      body = r.pick<unknown>([
        [],
        [1, "x"],
        [message("tools/list"), message("tools/call", { name: 5 })],
        [[]],
      ]);
      break;
    case "headers": {
      body = message("tools/list");
      const change = r.pick(["noAccept", "jsonOnly", "sseOnly", "session", "protocol", "textPlain"] as const);
      if (change === "noAccept") headers = withoutHeader(headers, "Accept");
      if (change === "jsonOnly") headers = setHeader(headers, "Accept", "application/json");
      if (change === "sseOnly") headers = setHeader(headers, "Accept", "text/event-stream");
      if (change === "session")
        headers.push([
          "Mcp-Session-Id",
          r.pick(["", "x", "s".repeat(3000), "../..", "00000000-0000-0000-0000-000000000000"]),
        ]);
      if (change === "protocol")
        headers.push([
          "Mcp-Protocol-Version",
          r.pick(["", "x", "1900-01-01", "9999-99-99", "2025-03-26, 2025-06-18"]),
        ]);
      if (change === "textPlain") headers = setHeader(headers, "Content-Type", "text/plain");
      break;
    }
    case "httpMethod": {
      httpMethod = r.pick(["GET", "DELETE", "PUT", "PATCH", "OPTIONS", "HEAD"]);
      // Never a session this process knows: a GET with one would hold its stream open.
      if (r.chance(0.5))
        headers.push(["Mcp-Session-Id", r.pick(["x", "00000000-0000-0000-0000-000000000000", "\u00ff"])]);
      body = httpMethod === "GET" || httpMethod === "HEAD" ? undefined : message("tools/list");
      break;
    }
  }
  return {
    server,
    request: b.spec(httpMethod, "/mcp", headers, body === undefined ? undefined : toJson(body)),
    kind: "mcp",
    mustRefuse: false,
    mayAccept: [],
    covers: [],
    notes: [`mcp ${shape}`],
  };
}

/** A request body that must be refused, for a target of one of the JSON endpoints. */
function refusedBody(b: Builder, where: "rpc" | "route" | "mcp", method: FuzzMethod): string {
  if (where === "rpc") return toJson(b.call(method, 1, { forceRefusal: true }).entry);
  const params = b.params(method, true);
  if (where === "route") return toJson(params.value);
  return toJson({
    jsonrpc: "2.0",
    id: 1,
    method: "tools/call",
    params: { name: method.mcpTool ?? "x", arguments: params.value },
  });
}

function jsonTarget(b: Builder): {
  where: "rpc" | "route" | "mcp";
  path: string;
  method: FuzzMethod;
  kind: AnswerKind;
} {
  const { r } = b;
  const where = r.pick(["rpc", "rpc", "route", "route", "mcp"] as const);
  if (where === "route") {
    const method = r.pick(b.routeMethods);
    return { where, path: method.httpPath as string, method, kind: "route" };
  }
  if (where === "mcp") return { where, path: "/mcp", method: r.pick(b.toolMethods), kind: "mcp" };
  return { where, path: r.pick(["/rpc", "/rpc/batch"]), method: r.pick(b.rpcMethods), kind: "rpc" };
}

/** Bodies that are not (valid) JSON, or JSON of the wrong shape, or sent as another content type. */
function malformedCase(b: Builder): Draft {
  const { r } = b;
  const server = b.server();
  const { where, path, method, kind } = jsonTarget(b);
  const text = refusedBody(b, where, method);
  const mangle = r.weighted({
    truncate: 2,
    trailing: 1,
    bom: 1,
    invalidUtf8: 1,
    invalidUtf8InValue: 1,
    utf16: 1,
    nul: 1,
    duplicateKey: 2,
    singleQuotes: 1,
    comment: 1,
    trailingComma: 1,
    scalar: 2,
    notJson: 1,
    empty: 1,
    contentType: 3,
  });
  let headers = baseHeaders(server, "application/json");
  if (where === "mcp") headers.push(["Accept", MCP_ACCEPT]);
  let body: Buffer | string = text;
  const insertAfterFirst = (insert: string | Buffer) =>
    Buffer.concat([
      Buffer.from(text.slice(0, 1)),
      Buffer.isBuffer(insert) ? insert : Buffer.from(insert),
      Buffer.from(text.slice(1)),
    ]);
  switch (mangle) {
    case "truncate":
      body = text.length > 1 ? text.slice(0, r.int(1, text.length - 1)) : "{";
      break;
    case "trailing":
      body = text + r.pick(["x", "}", "]", ",", "\u0000", "{}", " 1", "\n\n{"]);
      break;
    case "bom":
      body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]);
      break;
    case "invalidUtf8":
      body = insertAfterFirst(
        Buffer.from(
          r.pick([[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xc0, 0xaf]]),
        ),
      );
      break;
    case "invalidUtf8InValue":
      // An extra field whose value decodes to U+FFFD: the refused params stay refused.
      body = text.startsWith("{")
        ? insertAfterFirst(
            Buffer.concat([
              Buffer.from('"fuzzbytes":"a'),
              Buffer.from([0xff, 0xfe, 0xc3]),
              Buffer.from('b",'),
            ]),
          )
        : insertAfterFirst(Buffer.from([0xff]));
      break;
    case "utf16":
      body = Buffer.from(`\ufeff${text}`, "utf16le");
      break;
    case "nul": {
      const at = r.int(0, text.length);
      body = `${text.slice(0, at)}\u0000${text.slice(at)}`;
      break;
    }
    case "duplicateKey": {
      // A plausible value first; the refused one, later in the text, is the one JSON.parse keeps.
      if (!text.startsWith("{") || text === "{}") {
        body = `${text}}`;
        break;
      }
      const key = r.pick(Object.keys(JSON.parse(text) as object)) ?? "params";
      const plausible =
        where === "route"
          ? plausibleValue(r, (method.input.properties as Record<string, Schema> | undefined)?.[key] ?? {})
          : { text: "x" };
      body = insertAfterFirst(`${JSON.stringify(key)}:${JSON.stringify(plausible) ?? "1"},`);
      break;
    }
    case "singleQuotes":
      body = text.includes('"') ? text.replace(/"/g, "'") : `'${text}'`;
      break;
    case "comment":
      body = `/*c*/${text}`;
      break;
    case "trailingComma":
      body = /[}\]]$/.test(text) ? `${text.slice(0, -1)},${text.slice(-1)}` : `${text},`;
      break;
    case "scalar":
      body = where === "route" ? r.pick(NON_OBJECT_BODIES) : r.pick([...NON_OBJECT_BODIES, "null", "{}"]);
      break;
    case "notJson":
      body = r.pick(NOT_JSON_BODIES);
      break;
    case "empty":
      // An empty route body is `{}`, which may be valid: only for JSON-RPC and MCP.
      body = where === "route" ? "[]" : "";
      break;
    case "contentType": {
      const type = r.pick(NOT_JSON_TYPES);
      headers = r.chance(0.2)
        ? withoutHeader(headers, "Content-Type")
        : setHeader(headers, "Content-Type", type);
      break;
    }
  }
  return {
    server,
    request: b.spec("POST", path, headers, body),
    kind,
    mustRefuse: kind !== "rpc",
    mayAccept: [],
    covers: [],
    notes: [`${mangle} ${where} ${method.name}`],
  };
}

/** Nesting thousands deep: in a field, as the whole params, in the envelope. */
function deepCase(b: Builder): Draft {
  const { r, ctx } = b;
  const server = b.server();
  const { where, path, method, kind } = jsonTarget(b);
  // Up to what fits in the body limit (5 bytes a level in the widest shape).
  const depth = r.pick([OVER_DEPTH, 100, 1000, r.int(2000, Math.floor(ctx.maxBodyBytes / 6))]);
  const deep = deepJson(r, depth);
  // A route has no envelope: its deep value goes into a field.
  const place =
    where === "route"
      ? r.pick(["field", "params"] as const)
      : r.pick(["field", "params", "envelope"] as const);
  const params = (plausibleValue(r, method.input) ?? {}) as Record<string, unknown>;
  const keys = Object.keys((method.input.properties ?? {}) as object);
  if (place !== "params") params[keys.length > 0 ? r.pick(keys) : "extra"] = deep;
  const paramsValue = place === "params" ? new Raw(`{"a":${deep.text}}`, depth + 1) : params;
  let message: unknown;
  if (where === "route") message = paramsValue;
  else if (where === "mcp") {
    message = {
      jsonrpc: "2.0",
      id: place === "envelope" ? deep : 1,
      method: "tools/call",
      params: { name: method.mcpTool, arguments: paramsValue },
    };
  } else {
    const envelope = r.pick(["id", "metadata", "method"] as const);
    message = { jsonrpc: "2.0", id: 1, method: method.name, params: paramsValue };
    if (place === "envelope") (message as Record<string, unknown>)[envelope] = deep;
  }
  const headers = baseHeaders(server, "application/json");
  if (where === "mcp") headers.push(["Accept", MCP_ACCEPT]);
  return {
    server,
    request: b.spec("POST", path, headers, toJson(message)),
    kind,
    mustRefuse: kind !== "rpc",
    mayAccept: [],
    covers: [],
    notes: [`${depth} deep in ${place} of ${method.name} (${where})`],
  };
}

/** Bodies near and over MAX_BODY_BYTES: long strings, many entries, chunked uploads. */
function oversizeCase(b: Builder): Draft {
  const { r, ctx } = b;
  const server = b.server();
  const { where, path, method, kind } = jsonTarget(b);
  const over = r.chance(0.6);
  const size = over
    ? ctx.maxBodyBytes + r.pick([1, 100, r.int(1000, 200_000)])
    : ctx.maxBodyBytes - r.int(200, 2000);
  const text = refusedBody(b, where, method);
  const pad = Math.max(0, size - text.length - 20);
  // The padding goes into an extra field of an object body (the envelope's, or a field no
  // schema declares); any other body becomes a long array.
  const padded = text.startsWith("{") ? `{"fuzzpad":"${"p".repeat(pad)}",${text.slice(1)}` : text;
  const headers = baseHeaders(server, "application/json");
  if (where === "mcp") headers.push(["Accept", MCP_ACCEPT]);
  let body: Buffer | string = padded === text ? `[${"0,".repeat(Math.floor(pad / 2))}0]` : padded;
  const chunked = r.chance(0.25);
  if (chunked) {
    const bytes = Buffer.from(body);
    const chunks: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += 8192) {
      const part = bytes.subarray(at, at + 8192);
      chunks.push(Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from("\r\n"));
    }
    chunks.push(Buffer.from("0\r\n\r\n"));
    body = Buffer.concat(chunks);
    headers.push(["Transfer-Encoding", "chunked"]);
  }
  return {
    server,
    request: b.spec("POST", path, headers, body),
    kind,
    mustRefuse: kind !== "rpc",
    mayAccept: [],
    covers: [],
    notes: [
      `${over ? "over" : "near"} the body limit: ${size} bytes${chunked ? ", chunked" : ""}, ${where} ${method.name}`,
    ],
  };
}

const ODD_TARGETS = (r: Rng, b: Builder): string[] => [
  "//",
  "/%00",
  "/..%2f..%2fetc%2fpasswd",
  "/ui/..%2f..%2fpackage.json",
  "/ui/%2e%2e/%2e%2e/package.json",
  "/ui/../../package.json",
  "/ui/",
  "/ui/%00",
  "/ui/%",
  `/ui/${"u".repeat(3000)}`,
  "/favicon.ico",
  `/${"a".repeat(r.int(2000, 12_000))}`,
  "*",
  "http://evil.example/rpc",
  "/rpc#frag",
  "/%ZZ",
  "/task//create",
  "/task/create/",
  "/TASK/CREATE",
  "/task.create",
  "/task__create",
  "/constructor",
  "/__proto__",
  "/task/__proto__",
  "/task/constructor",
  `/hook/${pct(r.pick(ODD_STRINGS))}`,
  "/hook/a/b/c",
  "/system/batch/process/../../rpc",
  `/health?${"h".repeat(3000)}`,
  "/health/",
  "/metrics/x",
  "/openapi.json/..",
  "/events/",
  "/events?x",
  "/events?lastEventId=",
  "/ws",
  "/mcp/x",
  "/rpc/",
  "/rpc/batch/x",
  "/RPC",
  `${r.pick(b.routeMethods).httpPath}?${pct(r.pick(ODD_STRINGS))}`,
];

/** Odd HTTP methods and request targets, on every kind of endpoint. */
function oddHttpCase(b: Builder): Draft {
  const { r } = b;
  const server = b.server();
  const method = r.pick([
    "GET",
    "GET",
    "POST",
    "POST",
    "HEAD",
    "PUT",
    "DELETE",
    "OPTIONS",
    "PATCH",
    "TRACE",
    "PROPFIND",
    "M-SEARCH",
    "FOO",
    "get",
  ]);
  const target = r.pick(ODD_TARGETS(r, b));
  // Every body is one no handler takes: a POST that reaches a route is refused whatever the route.
  const withBody = method !== "GET" && method !== "HEAD" && r.chance(0.8);
  const headers = baseHeaders(server, withBody ? "application/json" : undefined);
  const body = withBody ? r.pick([...NON_OBJECT_BODIES, ...NOT_JSON_BODIES]) : undefined;
  return {
    server,
    request: b.spec(method, target, headers, body),
    kind: "other",
    mustRefuse: withBody,
    mayAccept: [],
    covers: [],
    notes: [`${method} ${target.slice(0, 80)}`],
  };
}

/** A request of another family with its headers spoiled: Origin, Host, Authorization, huge or broken headers. */
function badHeadersCase(b: Builder): Draft {
  const { r } = b;
  const base = r.pick([rpcCase, routeCase, toolCase, eventsCase])(b);
  const server = base.server as FuzzServer;
  let headers = base.request.headers;
  const change = r.weighted({
    origin: 3,
    host: 3,
    authorization: 3,
    huge: 1,
    many: 1,
    broken: 2,
    framing: 1,
    expect: 1,
    meta: 2,
  });
  let note: string;
  switch (change) {
    case "origin": {
      const origin = r.pick([
        "http://evil.example",
        "null",
        "https://127.0.0.1.evil.example",
        "chrome-extension://abc",
        "http://localhost:1",
        " ",
        "http://[::1",
        `http://127.0.0.1:${server.port}`,
        "HTTP://127.0.0.1",
      ]);
      headers = setHeader(headers, "Origin", origin);
      note = `Origin: ${origin}`;
      break;
    }
    case "host": {
      const host = r.pick([
        "evil.example",
        "",
        "localhost.evil.example",
        "127.0.0.1.nip.io",
        "[::1",
        "[::1]:99999",
        "127.0.0.1:abc",
        "0.0.0.0",
        "LOCALHOST",
        "h".repeat(300),
        "127.0.0.1, evil.example",
        "[::ffff:127.0.0.1]",
      ]);
      headers = r.chance(0.15) ? withoutHeader(headers, "Host") : setHeader(headers, "Host", host);
      if (r.chance(0.15)) headers.push(["Host", "evil.example"]);
      note = `Host: ${host.slice(0, 40)}`;
      break;
    }
    case "authorization": {
      const token = server.token ?? "t".repeat(24);
      const auth = r.pick([
        "Bearer",
        "Bearer ",
        "Bearer wrong-token-wrong-token",
        `bearer ${token}`,
        `BEARER ${token}`,
        `Bearer ${token} extra`,
        `Bearer  ${token}`,
        `Bearer ${token}\t`,
        "Basic dXNlcjpwYXNz",
        `Token ${token}`,
        `Bearer ${"x".repeat(8000)}`,
        `Bearer ${token.slice(0, -1)}`,
        `Bearer ${token}x`,
      ]);
      headers = r.chance(0.1)
        ? withoutHeader(headers, "Authorization")
        : setHeader(headers, "Authorization", auth);
      if (r.chance(0.2)) headers.push(["Authorization", `Bearer ${token}`]);
      note = `Authorization: ${auth.slice(0, 40)}`;
      break;
    }
    case "huge":
      headers = [...headers, ["X-Fuzz", "h".repeat(r.pick([8000, 20_000, 70_000]))]];
      note = "huge header";
      break;
    case "many":
      headers = [
        ...headers,
        ...Array.from({ length: r.int(100, 3000) }, (_, i): [string, string] => [`X-F${i}`, "v"]),
      ];
      note = "many headers";
      break;
    case "broken": {
      const line = r.pick<[string, string]>([
        ["X-Fuzz", "a\u0001b"],
        ["X Fuzz", "v"],
        ["X-Fuzz", "\u00ff\u00fe"],
        ["", "v"],
        ["X-Fuzz:", "v"],
        ["Content-Length", "-1"],
        ["Content-Length", "abc"],
        ["Content-Length", "99999999999999999999"],
      ]);
      headers = [...headers, line];
      note = `header ${JSON.stringify(line)}`;
      break;
    }
    case "framing":
      // Content-Length and Transfer-Encoding together: request smuggling's shape.
      headers = [
        ...headers,
        ["Transfer-Encoding", "chunked"],
        ["Content-Length", String(Buffer.byteLength(base.request.body ?? ""))],
      ];
      note = "Content-Length with Transfer-Encoding";
      break;
    case "expect":
      headers = [...headers, ["Expect", r.pick(["100-continue", "200-ok", "x"])]];
      note = "Expect";
      break;
    case "meta": {
      const name = r.pick([
        "X-Request-Id",
        "X-Session-Id",
        "X-Instance-Id",
        "X-Correlation-Id",
        "Last-Event-ID",
        "Mcp-Session-Id",
      ]);
      const value = r.pick(["", "m".repeat(6000), "\u00e9\u00ff", "../..", "a,b", "__proto__"]);
      headers = [...headers, [name, value]];
      note = `${name}: ${value.slice(0, 20)}`;
      break;
    }
  }
  return { ...base, request: { ...base.request, headers }, notes: [...base.notes, note] };
}

/**
 * A subscription query with at least one defect (a bad filter value, an unknown parameter, a
 * bad lastEventId), with good filters mixed in. `/ws` also reads `token`: not a defect there.
 */
function eventQuery(b: Builder, forWs: boolean): { query: string; notes: string[] } {
  const { r } = b;
  const parts: string[] = [];
  const notes: string[] = [];
  for (const name of Object.keys(GOOD_FILTERS)) {
    if (r.chance(0.3)) parts.push(`${name}=${pct(r.pick(GOOD_FILTERS[name] as string[]))}`);
  }
  const defect = r.pick(["filter", "unknown", "lastEventId", "raw"] as const);
  if (defect === "filter") {
    const name = r.pick(Object.keys(BAD_FILTERS));
    const value = r.pick(BAD_FILTERS[name] as string[]);
    parts.push(`${name}=${pct(value)}`);
    notes.push(`${name}=${JSON.stringify(value)}`);
  } else if (defect === "unknown") {
    const name = r.pick(forWs ? UNKNOWN_PARAMS : [...UNKNOWN_PARAMS, "token"]);
    parts.push(`${pct(name)}=1`);
    notes.push(`unknown parameter ${JSON.stringify(name)}`);
  } else if (defect === "lastEventId") {
    const id = r.pick(BAD_EVENT_IDS);
    parts.push(`lastEventId=${pct(id)}`);
    notes.push(`lastEventId=${JSON.stringify(id.slice(0, 40))}`);
  } else {
    const raw = r.pick([
      "lastEventId=%",
      "lastEventId=%ZZ",
      "task=%",
      "prefix=%00",
      "&&=",
      "lastEventId=1-0&lastEventId=x",
      "task=t-1&task=42",
    ]);
    parts.push(raw);
    notes.push(`raw query ${raw}`);
    // `lastEventId=1-0&lastEventId=x` resumes after 1-0 (URLSearchParams.get takes the first).
    if (raw === "lastEventId=1-0&lastEventId=x") parts.push("task=42");
  }
  return { query: parts.sort(() => r.float() - 0.5).join("&"), notes };
}

/** GET /events with a bad filter, parameter or last event id (query or Last-Event-ID). */
function eventsCase(b: Builder): Draft {
  const { r } = b;
  const server = b.server();
  const headers = baseHeaders(server);
  const notes: string[] = [];
  const badHeader = r.chance(0.3);
  if (badHeader) {
    // node:http trims header values: "1-0 " would arrive as a good id.
    const id = r.pick(BAD_EVENT_IDS.filter((id) => !/^\d+-\d+$/.test(id.trim()) && !id.includes("\n")));
    headers.push(["Last-Event-ID", id]);
    notes.push(`Last-Event-ID: ${JSON.stringify(id.slice(0, 40))}`);
  }
  // A bad Last-Event-ID wins over any query; without one, the query's own defect refuses it.
  const { query, notes: queryNotes } = eventQuery(b, false);
  notes.push(...queryNotes);
  return {
    server,
    request: b.spec("GET", `/events?${query}`, headers),
    kind: "subscribe",
    mustRefuse: true,
    mayAccept: [],
    covers: [],
    notes,
  };
}

/** A WebSocket upgrade with at least one defect: target, key, version, Upgrade, Origin, Host, token, query. */
function wsCase(b: Builder): Draft {
  const { r } = b;
  const server = b.server();
  let target = "/ws";
  let headers: [string, string][] = [
    ...baseHeaders(server),
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="],
    ["Sec-WebSocket-Version", "13"],
  ];
  let method = "GET";
  const defects = r.int(1, 2);
  const notes: string[] = [];
  for (let i = 0; i < defects; i++) {
    const defect = r.pick([
      "target",
      "query",
      "key",
      "version",
      "upgrade",
      "method",
      "origin",
      server.token ? "token" : "host",
    ] as const);
    notes.push(defect);
    switch (defect) {
      case "target":
        target = r.pick([
          "//[",
          "/ws?%",
          "//ws",
          "/ws/",
          "/WS",
          "/events",
          "/rpc",
          `/${"w".repeat(5000)}`,
          "http://[::1/ws",
          "*",
          "/ws%00",
          "/%5bws",
        ]);
        notes.push(target.slice(0, 40));
        break;
      case "query": {
        const { query, notes: q } = eventQuery(b, true);
        target = `${target.split("?")[0]}?${query}`;
        notes.push(...q);
        break;
      }
      case "key":
        headers = r.chance(0.3)
          ? withoutHeader(headers, "Sec-WebSocket-Key")
          : setHeader(
              headers,
              "Sec-WebSocket-Key",
              r.pick(["", "abc", "dGhlIHNhbXBsZSBub25jZQ", "!!!!!!!!!!!!!!!!!!!!!!==", "k".repeat(3000)]),
            );
        break;
      case "version":
        headers = r.chance(0.3)
          ? withoutHeader(headers, "Sec-WebSocket-Version")
          : setHeader(headers, "Sec-WebSocket-Version", r.pick(["7", "14", "abc", "", "13, 8", "-1"]));
        break;
      case "upgrade":
        headers = setHeader(
          headers,
          "Upgrade",
          r.pick(["h2c", "websocket2", "websocket, h2c", "WebSocket/13", "x"]),
        );
        break;
      case "method":
        method = r.pick(["POST", "PUT", "DELETE", "OPTIONS"]);
        break;
      case "origin":
        headers = setHeader(headers, "Origin", r.pick(["http://evil.example", "null", "http://localhost:1"]));
        break;
      case "host":
        headers = setHeader(
          headers,
          "Host",
          r.pick(["evil.example", "localhost.evil.example", "127.0.0.1.evil.example"]),
        );
        break;
      case "token":
        headers = r.chance(0.5)
          ? withoutHeader(headers, "Authorization")
          : setHeader(headers, "Authorization", "Bearer wrong-token-wrong-token");
        if (r.chance(0.3)) target = `${target}${target.includes("?") ? "&" : "?"}token=wrong`;
        break;
    }
  }
  return {
    server,
    request: b.spec(method, target, headers),
    kind: "subscribe",
    mustRefuse: true,
    mayAccept: [],
    covers: [],
    notes: [`upgrade: ${notes.join(", ")}`],
  };
}

/** A client that sends part of its body and goes away: nothing of it may run. */
function truncatedUploadCase(b: Builder): Draft {
  const { r } = b;
  const server = b.server();
  const { where, path, method, kind } = jsonTarget(b);
  const text = refusedBody(b, where, method);
  const sent = text.slice(0, r.int(0, text.length - 1));
  const headers = [
    ...baseHeaders(server, "application/json"),
    ["Content-Length", String(Buffer.byteLength(text) + r.int(1, 1000))] as [string, string],
  ];
  return {
    server,
    request: { ...b.spec("POST", path, headers, sent), endAfterWrite: true },
    kind,
    mustRefuse: true,
    mayAccept: [],
    covers: [],
    notes: [`${where} ${method.name}: ${sent.length} of ${text.length} bytes, then gone`],
  };
}

const FAMILIES = {
  rpc: [20, (b: Builder) => rpcCase(b)],
  batch: [7, batchCase],
  route: [18, (b: Builder) => routeCase(b)],
  tool: [12, (b: Builder) => toolCase(b)],
  mcp: [5, mcpProtocolCase],
  malformed: [10, malformedCase],
  deep: [5, deepCase],
  oversize: [4, oversizeCase],
  http: [6, oddHttpCase],
  headers: [7, badHeadersCase],
  events: [5, eventsCase],
  ws: [5, wsCase],
  truncated: [1, truncatedUploadCase],
} as const satisfies Record<string, readonly [number, (b: Builder) => Draft]>;

/** Every method on every transport it is served on: the first cases of a run go through these. */
export function coveragePairs(
  methods: FuzzMethod[],
): { method: FuzzMethod; transport: "jsonrpc" | "http" | "mcp" }[] {
  return methods.flatMap((method) =>
    (["jsonrpc", "http", "mcp"] as const)
      .filter(
        (t) =>
          method.transports.includes(t) &&
          (t !== "http" || method.httpPath) &&
          (t !== "mcp" || method.mcpTool),
      )
      .map((transport) => ({ method, transport })),
  );
}

/**
 * Case `index` of a run (`r` is its own generator): the first ones send one call to each
 * method on each of its transports, the rest are drawn from every family by weight.
 */
export function buildCase(r: Rng, ctx: FuzzContext, index: number): FuzzCase {
  const b = new Builder(r, ctx);
  const pairs = coveragePairs(ctx.methods);
  let family: string;
  let partial: Draft;
  const pair = pairs[index];
  if (pair) {
    family = pair.transport === "jsonrpc" ? "rpc" : pair.transport === "http" ? "route" : "tool";
    partial =
      pair.transport === "jsonrpc"
        ? rpcCase(b, pair.method)
        : pair.transport === "http"
          ? routeCase(b, pair.method)
          : toolCase(b, pair.method);
  } else {
    family = r.weighted(
      Object.fromEntries(Object.entries(FAMILIES).map(([name, [weight]]) => [name, weight])),
    );
    partial = (FAMILIES[family as keyof typeof FAMILIES][1] as (b: Builder) => Draft)(b);
  }
  const { server = b.server(), ...rest } = partial;
  return { index, family, server, ...rest };
}
