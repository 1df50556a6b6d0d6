import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { LinkRecord } from "../../src/extensions/hook-links/chain.js";
import { defineHookLink, type HookLink } from "../../src/extensions/hook-links/link.js";
import { startTestRedis, type TestRedis } from "../helpers/redis.js";
import { post, rpc, startTestServer } from "../helpers/server.js";
import { SseReader } from "../helpers/sse.js";

/**
 * Hook chains end to end: links registered through startServer, Claude Code's hook payloads
 * (test/fixtures/claude-hooks) over POST /hook/claude, answers in Claude Code's format, and the
 * decision records (`hook.<point>.decided` on the event stream) with each link's outcome.
 */

const FIXTURES = join(import.meta.dirname, "../fixtures/claude-hooks");
type Payload = Record<string, unknown>;
const fixture = (name: string): Payload => JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), "utf8"));
/** The Bash fixture with another command. */
const bash = (command: string): Payload => ({
  ...fixture("pre-tool-use.bash-safe"),
  tool_input: { command, description: "Run it" },
});

let redis: TestRedis;
before(async () => {
  redis = await startTestRedis();
});
after(async () => {
  await redis.stop();
});

interface Decided {
  decision: string;
  rule: string | null;
  reason: string;
  links: LinkRecord[];
}

/**
 * Sends one hook payload to POST /hook/claude; resolves with Claude Code's answer and the
 * decision record the chain emitted (null when none was: an empty chain).
 */
async function hook(url: string, payload: Payload): Promise<{ answer: Payload; decided: Decided | null }> {
  const point =
    payload.hook_event_name === "PreToolUse"
      ? "pre_tool"
      : payload.hook_event_name === "PostToolUse"
        ? "post_tool"
        : "user_prompt";
  // A marker event after the call: once it arrives, every event the call emitted has too.
  const events = await SseReader.open(`${url}/events?prefix=hook.${point}.decided,hook.marker`);
  try {
    const res = await post(url, "/hook/claude", payload);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal((await post(url, "/hook/claude", { hook_event_name: "Marker" })).status, 200);
    await events.waitFor(1);
    while (!events.events().some((e) => e.event === "hook.marker"))
      await events.waitFor(events.messages.length + 1);
    const decided = events.events().filter((e) => e.event === `hook.${point}.decided`);
    assert.ok(decided.length <= 1, `one decision per call: ${JSON.stringify(decided)}`);
    return { answer: res.body, decided: (decided[0]?.payload as unknown as Decided) ?? null };
  } finally {
    await events.close();
  }
}

const outcomes = (decided: Decided | null) => decided?.links.map((l) => [l.name, l.outcome]);

const permission = (decision: "deny" | "ask", rule: string, reason: string, extra: Payload = {}) => ({
  hookSpecificOutput: {
    hookEventName: "PreToolUse",
    permissionDecision: decision,
    permissionDecisionReason: `ClaudeBench policy (${rule}): ${reason}`,
    ...extra,
  },
});

describe("hook chains: links in priority order over real hook payloads", () => {
  it("three links: the first deny stops the chain (later links do not run); ask beats allow; a later deny beats an earlier ask", async () => {
    const ran: string[] = [];
    const links: HookLink[] = [
      // registered out of order on purpose: priority decides, not registration
      defineHookLink({
        name: "team.late",
        hook: "pre_tool",
        priority: 10,
        run: () => {
          ran.push("team.late");
          return { decision: "allow" };
        },
      }),
      defineHookLink({
        name: "team.guard",
        hook: "pre_tool",
        priority: 30,
        match: { tools: ["Bash"] },
        run: ({ input }) => {
          ran.push("team.guard");
          const command = String(input.command);
          if (command.includes("deploy"))
            return { decision: "deny", rule: "no-deploy", reason: "Deploys run in CI." };
          if (command.includes("migrate")) return { decision: "ask", reason: "migrations are reviewed" };
          return { decision: "allow" };
        },
      }),
      defineHookLink({
        name: "team.audit",
        hook: "pre_tool",
        priority: 20,
        // async, and says nothing: allow
        run: async () => {
          ran.push("team.audit");
        },
      }),
    ];
    const server = await startTestServer({ redisUrl: redis.url, hookLinks: links });
    try {
      const deploy = await hook(server.url, bash("npm run deploy"));
      assert.deepEqual(deploy.answer, permission("deny", "no-deploy", "Deploys run in CI."));
      assert.deepEqual(ran, ["team.guard"], "the links after the deny did not run");
      assert.deepEqual(outcomes(deploy.decided), [["team.guard", "deny"]]);
      assert.equal(deploy.decided?.rule, "no-deploy");

      ran.length = 0;
      const migrate = await hook(server.url, bash("npm run migrate"));
      assert.deepEqual(migrate.answer, permission("ask", "team.guard", "migrations are reviewed"));
      assert.deepEqual(ran, ["team.guard", "team.audit", "team.late"]);
      assert.deepEqual(outcomes(migrate.decided), [
        ["team.guard", "ask"],
        ["team.audit", "allow"],
        ["team.late", "allow"],
        ["builtin.policy", "allow"],
      ]);

      // The built-in engine, as the last link, still denies a compound command — over an earlier ask.
      const both = await hook(server.url, bash("npm run migrate && echo hi && rm -rf /"));
      assert.deepEqual(
        both.answer,
        permission(
          "deny",
          "rm-critical",
          "rm -r on /: deletes the system, a home directory or one holding the project",
        ),
      );
      assert.deepEqual(outcomes(both.decided), [
        ["team.guard", "ask"],
        ["team.audit", "allow"],
        ["team.late", "allow"],
        ["builtin.policy", "deny"],
      ]);
      assert.deepEqual(outcomes((await hook(server.url, bash("echo hi && rm -rf /"))).decided), [
        ["team.guard", "allow"],
        ["team.audit", "allow"],
        ["team.late", "allow"],
        ["builtin.policy", "deny"],
      ]);

      // Every link allows: no decision, Claude Code's own permissions apply.
      assert.deepEqual((await hook(server.url, bash("npm test"))).answer, {});
      // match.tools: team.guard is for Bash only.
      ran.length = 0;
      const edit = await hook(server.url, fixture("pre-tool-use.edit-project"));
      assert.deepEqual(edit.answer, {});
      assert.deepEqual(ran, ["team.audit", "team.late"]);
      for (const link of edit.decided?.links ?? []) assert.ok(link.ms >= 0, JSON.stringify(link));
    } finally {
      await server.close();
    }
  });

  it("modifications compose in priority order: each link sees the input as the earlier ones left it; an ask keeps the rewrite", async () => {
    const seen: string[] = [];
    const append = (name: string, priority: number, flag: string) =>
      defineHookLink({
        name,
        hook: "pre_tool",
        priority,
        match: { tools: ["Bash"] },
        run: ({ input }) => {
          seen.push(`${name}: ${input.command}`);
          return {
            decision: "modify",
            reason: `adds ${flag}`,
            updatedInput: { ...input, command: `${input.command} ${flag}` },
          };
        },
      });
    const server = await startTestServer({
      redisUrl: redis.url,
      hookLinks: [
        // name order would run a_quiet first; priority runs z_ci first
        append("team.a_quiet", 10, "--silent"),
        append("team.z_ci", 20, "--ci"),
        defineHookLink({
          name: "team.review",
          hook: "pre_tool",
          priority: 5,
          run: ({ input }) =>
            String(input.command).includes("publish")
              ? { decision: "ask", rule: "publish-review", reason: "publishing is reviewed" }
              : undefined,
        }),
      ],
    });
    try {
      // ...and the built-in engine (priority 0) strips sudo from the rewritten command.
      const sudo = await hook(server.url, {
        ...fixture("pre-tool-use.bash-sudo"),
        tool_input: { command: "sudo npm test", description: "Run the tests" },
      });
      assert.deepEqual(
        sudo.answer,
        permission(
          "ask",
          "team.z_ci, team.a_quiet, strip-sudo",
          "adds --ci; adds --silent; sudo removed: agents run without root",
          { updatedInput: { command: "npm test --ci --silent", description: "Run the tests" } },
        ),
      );
      assert.deepEqual(seen, ["team.z_ci: sudo npm test", "team.a_quiet: sudo npm test --ci"]);
      assert.deepEqual(outcomes(sudo.decided), [
        ["team.z_ci", "modify"],
        ["team.a_quiet", "modify"],
        ["team.review", "allow"],
        ["builtin.policy", "modify"],
      ]);
      assert.equal(sudo.decided?.decision, "modify");

      // An ask after the rewrites: the person is asked about the rewritten input.
      const publish = await hook(server.url, bash("npm publish"));
      assert.deepEqual(
        publish.answer,
        permission("ask", "publish-review", "publishing is reviewed", {
          updatedInput: { command: "npm publish --ci --silent", description: "Run it" },
        }),
      );

      // The original API reports the same chain, with the links in the answer.
      const { body } = await rpc(server.url, {
        jsonrpc: "2.0",
        id: 1,
        method: "hook.pre_tool",
        params: { tool: "Bash", params: { command: "npm test" } },
      });
      const { links, ...answer } = body.result;
      assert.deepEqual(answer, {
        allow: true,
        reason: "adds --ci; adds --silent",
        modified: { command: "npm test --ci --silent" },
        decision: "modify",
        rule: "team.z_ci, team.a_quiet",
        warnings: ["adds --ci", "adds --silent"],
      });
      assert.deepEqual(
        links.map((l: LinkRecord) => [l.name, l.outcome]),
        [
          ["team.z_ci", "modify"],
          ["team.a_quiet", "modify"],
          ["team.review", "allow"],
          ["builtin.policy", "allow"],
        ],
      );
    } finally {
      await server.close();
    }
  });

  it("a slow link is cut off at its time bound and a throwing link is recorded: before a tool runs both fail closed (ask)", async () => {
    const aborted: string[] = [];
    const server = await startTestServer({
      redisUrl: redis.url,
      hookLinks: [
        defineHookLink({
          name: "team.slow",
          hook: "pre_tool",
          priority: 10,
          timeoutMs: 100,
          match: { tools: ["Bash"] },
          // never answers on its own: only its time bound ends it
          run: (_input, ctx) =>
            new Promise((resolve) => {
              ctx.signal.addEventListener("abort", () => {
                aborted.push(ctx.link);
                resolve({ decision: "allow" });
              });
            }),
        }),
        defineHookLink({
          name: "team.broken",
          hook: "pre_tool",
          priority: 10,
          match: { tools: ["Edit", "Write"] },
          run: () => {
            throw new Error("boom");
          },
        }),
      ],
    });
    try {
      const slow = await hook(server.url, bash("npm test"));
      assert.deepEqual(
        slow.answer,
        permission("ask", "team.slow", "hook link team.slow did not answer within 100 ms"),
      );
      assert.deepEqual(aborted, ["team.slow"], "the link's signal was aborted");
      const [record, builtin] = slow.decided?.links ?? [];
      assert.deepEqual(
        { ...record, ms: undefined },
        { name: "team.slow", outcome: "timeout", ms: undefined, error: "did not answer within 100 ms" },
      );
      // libuv times the bound in whole milliseconds from the loop's cached clock, so the timer may
      // fire up to 1 ms before performance.now() says 100 ms have passed (seen: 99.963).
      assert.ok((record?.ms ?? 0) >= 99, `cut off after its bound, not before: ${record?.ms}`);
      assert.deepEqual([builtin?.name, builtin?.outcome], ["builtin.policy", "allow"]);

      const broken = await hook(server.url, fixture("pre-tool-use.edit-project"));
      assert.deepEqual(broken.answer, permission("ask", "team.broken", "hook link team.broken failed: boom"));
      assert.deepEqual(
        broken.decided?.links.map((l) => [l.name, l.outcome, l.error]),
        [
          ["team.broken", "error", "failed: boom"],
          ["builtin.policy", "allow", undefined],
        ],
      );

      // A failing link asks; a deny after it still wins.
      assert.deepEqual(
        (await hook(server.url, bash("echo hi && rm -rf /"))).answer,
        permission(
          "deny",
          "rm-critical",
          "rm -r on /: deletes the system, a home directory or one holding the project",
        ),
      );
    } finally {
      await server.close();
    }
  });
});

describe("hook chains after a tool and for prompts", () => {
  it("user_prompt: context accumulates in order, a slow link is skipped (recorded), a block stops the chain", async () => {
    const server = await startTestServer({
      redisUrl: redis.url,
      hookLinks: [
        defineHookLink({
          name: "team.slow_prompt",
          hook: "user_prompt",
          priority: 30,
          timeoutMs: 100,
          run: (_input, ctx) =>
            new Promise((resolve) => ctx.signal.addEventListener("abort", () => resolve(undefined))),
        }),
        defineHookLink({
          name: "team.no_prod",
          hook: "user_prompt",
          priority: 20,
          run: ({ prompt }) =>
            prompt.includes("production")
              ? { decision: "block", reason: "Production work goes through the on-call team." }
              : undefined,
        }),
        defineHookLink({
          name: "team.style",
          hook: "user_prompt",
          priority: -10,
          run: () => ({ decision: "warn", reason: "Follow docs/STYLE.md." }),
        }),
      ],
    });
    try {
      const secret = await hook(server.url, fixture("user-prompt-submit.secret"));
      assert.deepEqual(secret.answer, {
        hookSpecificOutput: {
          hookEventName: "UserPromptSubmit",
          additionalContext:
            "The prompt seems to contain an AWS access key: do not repeat it, write it to files or send it anywhere.\nFollow docs/STYLE.md.",
        },
      });
      assert.deepEqual(outcomes(secret.decided), [
        ["team.slow_prompt", "timeout"],
        ["team.no_prod", "allow"],
        ["builtin.prompt", "warn"],
        ["team.style", "warn"],
      ]);

      const prod = await hook(server.url, {
        ...fixture("user-prompt-submit.plain"),
        prompt: "Restart the production database",
      });
      assert.deepEqual(prod.answer, {
        decision: "block",
        reason: "Production work goes through the on-call team.",
      });
      assert.deepEqual(outcomes(prod.decided), [
        ["team.slow_prompt", "timeout"],
        ["team.no_prod", "block"],
      ]);
    } finally {
      await server.close();
    }
  });

  it("post_tool: a throwing link is skipped (recorded), a blocking one answers for the model; an empty chain records nothing", async () => {
    const server = await startTestServer({
      redisUrl: redis.url,
      hookLinks: [
        defineHookLink({
          name: "team.flaky",
          hook: "post_tool",
          priority: 10,
          run: async () => {
            throw new Error("lost its connection");
          },
        }),
        defineHookLink({
          name: "team.no_todos_in_prod",
          hook: "post_tool",
          priority: 0,
          match: { tools: ["TodoWrite"] },
          run: ({ input }) =>
            Array.isArray(input.todos) && input.todos.length > 2
              ? { decision: "block", reason: "Keep the list short: at most two todos." }
              : { decision: "warn", reason: "Todo list noted." },
        }),
      ],
    });
    try {
      const todos = await hook(server.url, fixture("post-tool-use.todo-write"));
      assert.deepEqual(todos.answer, {
        decision: "block",
        reason: "Keep the list short: at most two todos.",
      });
      assert.deepEqual(
        todos.decided?.links.map((l) => [l.name, l.outcome, l.error]),
        [
          ["team.flaky", "error", "failed: lost its connection"],
          ["team.no_todos_in_prod", "block", undefined],
        ],
      );
    } finally {
      await server.close();
    }
    // Without post_tool links nothing runs and nothing is recorded.
    const plain = await startTestServer({ redisUrl: redis.url });
    try {
      const todos = await hook(plain.url, fixture("post-tool-use.todo-write"));
      assert.deepEqual(todos, { answer: {}, decided: null });
    } finally {
      await plain.close();
    }
  });
});
