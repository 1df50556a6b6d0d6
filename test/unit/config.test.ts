import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConfigError, loadClientConfig } from "../../src/client-config.js";
import { loadConfig } from "../../src/config.js";

describe("config", () => {
  it("has working defaults", () => {
    const c = loadConfig({}, {});
    assert.equal(c.port, 3000);
    assert.equal(c.host, "127.0.0.1");
    assert.equal(c.keyPrefix, "cb");
    assert.equal(c.logLevel, "info");
    assert.equal(c.redisUrl, undefined);
    assert.equal(c.databaseUrl, undefined);
    assert.ok(c.dataDir.endsWith(".claudebench"));
    assert.match(c.instanceId, /^srv-/);
  });

  it("reads the environment, and flags win over it", () => {
    const env = {
      PORT: "4000",
      KEY_PREFIX: "env",
      REDIS_URL: "redis://h:1",
      LOG_LEVEL: "debug",
      INSTANCE_ID: "e1",
    };
    const fromEnv = loadConfig({}, env);
    assert.equal(fromEnv.port, 4000);
    assert.equal(fromEnv.keyPrefix, "env");
    assert.equal(fromEnv.redisUrl, "redis://h:1");
    assert.equal(fromEnv.instanceId, "e1");
    const fromFlags = loadConfig({ port: "5000", keyPrefix: "flag" }, env);
    assert.equal(fromFlags.port, 5000);
    assert.equal(fromFlags.keyPrefix, "flag");
  });

  it("treats empty variables as unset", () => {
    assert.equal(loadConfig({}, { REDIS_URL: "", PORT: "" }).redisUrl, undefined);
  });

  const bad: [string, Record<string, string>, RegExp][] = [
    ["a port out of range", { PORT: "70000" }, /port \(PORT\) = "70000"/],
    ["a port that is not a number", { PORT: "abc" }, /port \(PORT\)/],
    ["a redis URL without scheme", { REDIS_URL: "localhost:6379" }, /REDIS_URL.*redis:\/\//],
    ["a database URL of another kind", { DATABASE_URL: "mysql://x" }, /DATABASE_URL.*postgres/],
    ["an unknown log level", { LOG_LEVEL: "loud" }, /LOG_LEVEL/],
    ["a key prefix with a colon", { KEY_PREFIX: "a:b" }, /KEY_PREFIX/],
    ["a short auth token", { AUTH_TOKEN: "short" }, /AUTH_TOKEN.*\(hidden\).*16/],
    ["a blank auth token", { AUTH_TOKEN: " ".repeat(20) }, /AUTH_TOKEN.*\(hidden\).*without spaces/],
    ["an auth token with spaces", { AUTH_TOKEN: "0123456789 abcdef" }, /AUTH_TOKEN.*without spaces/],
    ["a token and a token file", { AUTH_TOKEN: "0123456789abcdef", AUTH_TOKEN_FILE: "/x" }, /not both/],
    [
      "a token file that cannot be read",
      { AUTH_TOKEN_FILE: "/nonexistent/token" },
      /AUTH_TOKEN_FILE.*ENOENT/,
    ],
    ["a batch limit of 0", { RPC_BATCH_MAX: "0" }, /RPC_BATCH_MAX/],
    ["a non-loopback host without a token", { HOST: "0.0.0.0" }, /0\.0\.0\.0.*requires AUTH_TOKEN/],
  ];
  for (const [label, env, message] of bad) {
    it(`refuses ${label} with a message naming the setting`, () => {
      assert.throws(
        () => loadConfig({}, env),
        (err: unknown) => err instanceof ConfigError && message.test(err.message),
      );
    });
  }

  it("allows a non-loopback host with a token", () => {
    const c = loadConfig({}, { HOST: "0.0.0.0", AUTH_TOKEN: "0123456789abcdef" });
    assert.equal(c.host, "0.0.0.0");
  });

  it("reads the token from the first line of AUTH_TOKEN_FILE (or --auth-token-file)", () => {
    const dir = mkdtempSync(join(tmpdir(), "cb-config-"));
    try {
      const file = join(dir, "token");
      writeFileSync(file, "file-token-0123456789\nsecond line ignored\n", { mode: 0o600 });
      assert.equal(loadConfig({}, { AUTH_TOKEN_FILE: file }).authToken, "file-token-0123456789");
      assert.equal(loadConfig({ authTokenFile: file }, {}).authToken, "file-token-0123456789");
      writeFileSync(file, "\n");
      assert.throws(() => loadConfig({}, { AUTH_TOKEN_FILE: file }), /AUTH_TOKEN.*16/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reads ALLOWED_HOSTS and ALLOWED_ORIGINS as comma-separated lists", () => {
    const c = loadConfig(
      {},
      { ALLOWED_HOSTS: "bench.lan, ci.internal,", ALLOWED_ORIGINS: "https://x.example" },
    );
    assert.deepEqual(c.allowedHosts, ["bench.lan", "ci.internal"]);
    assert.deepEqual(c.allowedOrigins, ["https://x.example"]);
    assert.deepEqual(loadConfig({}, {}).allowedHosts, []);
  });

  it("does not echo the auth token in errors", () => {
    assert.throws(
      () => loadConfig({}, { AUTH_TOKEN: "secret" }),
      (err: unknown) => err instanceof Error && !err.message.includes("secret"),
    );
  });

  describe("client commands' servers", () => {
    it("default to localhost on PORT", () => {
      assert.deepEqual(loadClientConfig({}, {}).urls, ["http://127.0.0.1:3000"]);
      assert.deepEqual(loadClientConfig({}, { PORT: "4100" }).urls, ["http://127.0.0.1:4100"]);
    });

    it("take several servers, in order, from a repeated --url or a comma list; flags win over CLAUDEBENCH_URL", () => {
      const env = { CLAUDEBENCH_URL: "http://e1:1, http://e2:2" };
      assert.deepEqual(loadClientConfig({}, env).urls, ["http://e1:1", "http://e2:2"]);
      assert.deepEqual(loadClientConfig({ url: ["http://a:1", "http://b:2,http://c:3"] }, env).urls, [
        "http://a:1",
        "http://b:2",
        "http://c:3",
      ]);
      assert.deepEqual(loadClientConfig({ url: "http://a:1" }, env).urls, ["http://a:1"]);
    });

    it("refuse a list with an entry that is not an http(s) URL, naming the setting", () => {
      assert.throws(
        () => loadClientConfig({}, { CLAUDEBENCH_URL: "http://a:1,localhost:3000" }),
        (err: unknown) =>
          err instanceof ConfigError && /CLAUDEBENCH_URL.*localhost:3000.*http:\/\//.test(err.message),
      );
      assert.throws(() => loadClientConfig({ url: "," }, {}), ConfigError);
    });
  });
});
