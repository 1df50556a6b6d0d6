import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { RedisRpcClient } from "../../src/client/redis-rpc.js";
import type { JsonRpcFailure, JsonRpcSuccess } from "../../src/contract/jsonrpc.js";
import { waitFor } from "../helpers/cli.js";
import { connectMcp } from "../helpers/mcp.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";
import { post, rpc, startTestServer } from "../helpers/server.js";
import { SseReader } from "../helpers/sse.js";

type Server = Awaited<ReturnType<typeof startTestServer>>;

const EXAMPLE = join(import.meta.dirname, "../../examples/plugins/hello.ts");

/** A JavaScript plugin with a helper module in a subdirectory and a tight rate limit. */
const MATH_JS = `
import { defineHandler, z } from "claudebench";
import { add } from "./lib/add.js";

export const mathAdd = defineHandler({
  name: "math.add",
  description: "Adds two numbers.",
  input: z.object({ a: z.number(), b: z.number() }),
  output: z.object({ sum: z.number() }),
  policy: { rateLimit: { limit: 3, windowMs: 60000 } },
  handle: async ({ a, b }) => ({ sum: add(a, b) }),
});

export const notAHandler = 42;
`;

const BROKEN_TS = "export const oops: number = ;\n";

const BAD_NAME_MJS = `
import { defineHandler, z } from "claudebench";
export const shouting = defineHandler({
  name: "Bad-Name",
  description: "An invalid name.",
  input: z.object({}),
  output: z.object({}),
  handle: async () => ({}),
});
`;

const CLASH_JS = `
import { defineHandler, z } from "claudebench";
export const myCreate = defineHandler({
  name: "task.create",
  description: "Clashes with a built-in without saying it overrides it.",
  input: z.object({}),
  output: z.object({}),
  handle: async () => ({}),
});
`;

const OVERRIDE_TS = `
import { defineHandler, z } from "claudebench";
export const ping = defineHandler({
  name: "system.ping",
  description: "A plugin's own ping, replacing the built-in on purpose.",
  overrides: true,
  input: z.object({}),
  output: z.object({ pong: z.literal(true), from: z.string() }),
  handle: async () => ({ pong: true as const, from: "plugin" }),
});
`;

const echoPlugin = (suffix: string) => `
import { defineHandler, z } from "claudebench";
const suffix: string = ${JSON.stringify(suffix)};
export const echo = defineHandler({
  name: "extra.echo",
  description: "Echoes its text with a suffix.",
  input: z.object({ text: z.string() }),
  output: z.object({ echoed: z.string() }),
  handle: async ({ text }) => ({ echoed: text + suffix }),
});
`;

interface Discovered {
  methods: { name: string; metadata: { source: string; httpPath: string | null; mcpTool: string | null } }[];
  plugins: {
    dir: string | null;
    watching: boolean;
    files: { file: string; extensions: { kind: string; name: string }[] }[];
    errors: { file: string; reason: string }[];
  };
}

async function discover(url: string): Promise<Discovered> {
  const reply = await rpc(url, { jsonrpc: "2.0", id: 1, method: "system.discover", params: {} });
  return (reply.body as JsonRpcSuccess).result as Discovered;
}

describe("plugins: handlers from a directory, served like built-ins", () => {
  let redis: TestRedis;
  let server: Server;
  let dir: string;
  let mcp: Client;
  let redisRpc: RedisRpcClient;
  let events: SseReader;
  let listChanged = 0;

  before(async () => {
    // Outside the repository: `claudebench` must resolve without a node_modules next to it.
    dir = mkdtempSync(join(tmpdir(), "cb-plugins-"));
    copyFileSync(EXAMPLE, join(dir, "hello.ts"));
    writeFileSync(join(dir, "math.js"), MATH_JS);
    mkdirSync(join(dir, "lib"));
    writeFileSync(join(dir, "lib", "add.js"), "export const add = (a, b) => a + b;\n");
    writeFileSync(join(dir, "broken.ts"), BROKEN_TS);
    writeFileSync(join(dir, "bad-name.mjs"), BAD_NAME_MJS);
    writeFileSync(join(dir, "clash.js"), CLASH_JS);
    writeFileSync(join(dir, "override.ts"), OVERRIDE_TS);
    writeFileSync(join(dir, "README.txt"), "not a plugin: other extensions are ignored\n");
    redis = await startTestRedis();
    const now = Date.now();
    server = await startTestServer({
      redisUrl: redis.url,
      // A clock that stands still: a rate-limit window never rolls over during the test.
      clock: () => now,
      overrides: { pluginsDir: dir, pluginsDirRequired: true, watchPlugins: true },
    });
    mcp = await connectMcp(server.url);
    mcp.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      listChanged++;
    });
    redisRpc = new RedisRpcClient(redis.url, server.config.keyPrefix);
    events = await SseReader.open(`${server.url}/events?prefix=system.handlers`);
  });

  after(async () => {
    await events?.close();
    await mcp?.close();
    await redisRpc?.close();
    await server?.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves a TypeScript and a JavaScript plugin on JSON-RPC, HTTP, MCP and the Redis request stream", async () => {
    for (const [method, params, expected] of [
      ["hello.greet", { name: "Ada" }, { greeting: "Hello, Ada!", servedBy: server.instanceId }],
      ["math.add", { a: 2, b: 3 }, { sum: 5 }],
    ] as const) {
      const [jsonrpc, http, tool, stream] = await Promise.all([
        rpc(server.url, { jsonrpc: "2.0", id: 1, method, params }, { "x-session-id": `rpc-${method}` }),
        post(server.url, `/${method.replace(".", "/")}`, params, { "x-session-id": `http-${method}` }),
        mcp.callTool({ name: method.replace(".", "__"), arguments: params }),
        redisRpc.call(method, params),
      ]);
      assert.deepEqual((jsonrpc.body as JsonRpcSuccess).result, expected);
      assert.equal(http.status, 200);
      assert.deepEqual(http.body, expected);
      assert.equal(tool.isError, undefined);
      assert.deepEqual(tool.structuredContent, expected);
      assert.deepEqual((stream as JsonRpcSuccess).result, expected);
    }
    const { tools } = await mcp.listTools();
    const hello = tools.find((t) => t.name === "hello__greet");
    assert.ok(hello, "the plugin's tool is listed");
    assert.equal(hello.annotations?.readOnlyHint, true);
    const openapi = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: object };
    assert.ok("/math/add" in openapi.paths);
  });

  it("reports each broken file with its reason, and serves the good ones", async () => {
    const { plugins, methods } = await discover(server.url);
    assert.equal(plugins.dir, dir);
    assert.equal(plugins.watching, true);
    const reasonFor = (name: string) =>
      plugins.errors.filter((e) => e.file === join(dir, name)).map((e) => e.reason);
    assert.match(reasonFor("broken.ts").join(), /broken\.ts:1:\d+: ERROR/);
    assert.match(
      reasonFor("bad-name.mjs").join(),
      /export shouting: .*"Bad-Name" must be lower-case "domain\.action"/,
    );
    assert.match(
      reasonFor("clash.js").join(),
      /export myCreate: "task\.create" is a built-in handler; declare overrides: true/,
    );
    assert.equal(plugins.errors.length, 3, JSON.stringify(plugins.errors));
    assert.deepEqual(
      plugins.files.map((f) => [f.file, f.extensions.map((e) => `${e.kind}:${e.name}`)]),
      [
        [join(dir, "hello.ts"), ["handler:hello.greet"]],
        [join(dir, "math.js"), ["handler:math.add"]],
        [join(dir, "override.ts"), ["handler:system.ping"]],
      ],
    );
    const sourceOf = (name: string) => methods.find((m) => m.name === name)?.metadata.source;
    assert.equal(sourceOf("hello.greet"), join(dir, "hello.ts"));
    assert.equal(sourceOf("task.create"), "builtin");
    assert.equal(sourceOf("Bad-Name"), undefined);
  });

  it("lets a plugin replace a built-in it declares to override", async () => {
    const reply = await rpc(server.url, { jsonrpc: "2.0", id: 1, method: "system.ping", params: {} });
    assert.deepEqual((reply.body as JsonRpcSuccess).result, { pong: true, from: "plugin" });
  });

  it("enforces the policy a plugin handler declares (its rate limit)", async () => {
    const call = () =>
      rpc(
        server.url,
        { jsonrpc: "2.0", id: 1, method: "math.add", params: { a: 1, b: 1 } },
        { "x-session-id": "limited" },
      );
    for (let i = 0; i < 3; i++) assert.ok("result" in (await call()).body);
    const refused = await call();
    assert.equal((refused.body as JsonRpcFailure).error.code, -32000);
    assert.match(
      (refused.body as JsonRpcFailure).error.message,
      /^Rate limit exceeded for math\.add: 3 calls/,
    );
    assert.equal(((refused.body as JsonRpcFailure).error.data as { code?: string }).code, "RATE_LIMITED");
    assert.ok(refused.headers.get("retry-after"));
  });

  it("applies added, changed and removed files while serving, telling MCP sessions and the event stream", async () => {
    assert.ok((mcp.transport as StreamableHTTPClientTransport).sessionId, "the MCP client holds a session");
    const file = join(dir, "extra.ts");
    const echo = () =>
      rpc(server.url, { jsonrpc: "2.0", id: 1, method: "extra.echo", params: { text: "hi" } });
    const changes = () =>
      events
        .events<{
          event: string;
          payload: { added: string[]; removed: string[]; changed: string[]; errors: unknown[] };
        }>()
        .filter((e) => e.event === "system.handlers.changed")
        .map((e) => e.payload);

    // Written whole, then renamed into place as editors save: the server never sees half a file.
    const save = (text: string) => {
      writeFileSync(`${file}.tmp`, text);
      renameSync(`${file}.tmp`, file);
    };

    // Added.
    save(echoPlugin("!"));
    await waitFor(() => listChanged >= 1, "tools/list_changed after adding a file");
    assert.deepEqual((await echo()).body.result, { echoed: "hi!" });
    assert.ok((await mcp.listTools()).tools.some((t) => t.name === "extra__echo"));
    assert.ok((await discover(server.url)).methods.some((m) => m.name === "extra.echo"));
    await waitFor(() => changes().length >= 1, "system.handlers.changed after adding a file");
    // The files still broken are named again with each change.
    assert.deepEqual(changes()[0], {
      added: ["extra.echo"],
      removed: [],
      changed: [],
      errors: changes()[0]?.errors,
    });
    assert.equal(changes()[0]?.errors.length, 3);

    // Changed: re-imported fresh.
    save(echoPlugin("?"));
    await waitFor(() => listChanged >= 2, "tools/list_changed after changing a file");
    assert.deepEqual((await echo()).body.result, { echoed: "hi?" });
    await waitFor(() => changes().length >= 2, "system.handlers.changed after changing a file");
    assert.deepEqual(changes()[1]?.changed, ["extra.echo"]);

    // Removed.
    unlinkSync(file);
    await waitFor(() => listChanged >= 3, "tools/list_changed after removing a file");
    assert.equal((await echo()).body.error.code, -32601);
    assert.equal((await post(server.url, "/extra/echo", { text: "hi" })).status, 404);
    assert.ok(!(await mcp.listTools()).tools.some((t) => t.name === "extra__echo"));
    assert.ok(!(await discover(server.url)).methods.some((m) => m.name === "extra.echo"));
    await waitFor(() => changes().length >= 3, "system.handlers.changed after removing a file");
    assert.deepEqual(changes()[2]?.removed, ["extra.echo"]);
  });

  it("keeps answering MCP requests without a session, and refuses GET without one", async () => {
    const init = await fetch(`${server.url}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }),
    });
    assert.equal(init.status, 200);
    assert.equal(init.headers.get("mcp-session-id"), null);
    const body = (await init.json()) as { result: { tools: { name: string }[] } };
    assert.ok(body.result.tools.some((t) => t.name === "hello__greet"));
    const get = await fetch(`${server.url}/mcp`, { headers: { accept: "text/event-stream" } });
    assert.equal(get.status, 405);
    const unknown = await fetch(`${server.url}/mcp`, {
      headers: { accept: "text/event-stream", "mcp-session-id": "no-such-session" },
    });
    assert.equal(unknown.status, 404);
  });
});

describe("plugins: the directory itself", () => {
  let redis: TestRedis;
  before(async () => {
    redis = await startTestRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  it("refuses to start when an explicitly named plugin directory is missing", async () => {
    const missing = join(tmpdir(), `cb-no-such-plugins-${process.pid}`);
    await assert.rejects(
      startTestServer({
        redisUrl: redis.url,
        overrides: { pluginsDir: missing, pluginsDirRequired: true },
      }),
      new RegExp(`plugin directory ${missing} does not exist`),
    );
  });

  it("keeps at most MCP_MAX_SESSIONS MCP sessions, dropping the least recently used", async () => {
    const server = await startTestServer({ redisUrl: redis.url, overrides: { mcpMaxSessions: 1 } });
    const first = await connectMcp(server.url);
    const second = await connectMcp(server.url);
    try {
      const stream = async (client: Client) => {
        const controller = new AbortController();
        const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId as string;
        const res = await fetch(`${server.url}/mcp`, {
          headers: { accept: "text/event-stream", "mcp-session-id": sessionId },
          signal: controller.signal,
        });
        controller.abort();
        return res.status;
      };
      assert.equal(await stream(first), 404, "the older session was closed");
      assert.equal((await first.listTools()).tools.length > 0, true, "its requests are still answered");
      // The newer one lives: 200, or 409 once its own client holds the one stream a session has.
      assert.ok([200, 409].includes(await stream(second)));
    } finally {
      await first.close();
      await second.close();
      await server.close();
    }
  });

  it("starts without plugins when the default directory is missing", async () => {
    const server = await startTestServer({
      redisUrl: redis.url,
      overrides: { pluginsDir: join(tmpdir(), `cb-no-plugins-${process.pid}`), pluginsDirRequired: false },
    });
    try {
      const { plugins } = await discover(server.url);
      assert.deepEqual(plugins, { dir: null, watching: false, files: [], errors: [] });
    } finally {
      await server.close();
    }
  });
});
