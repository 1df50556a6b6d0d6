import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DomainEvent } from "../../src/contract/events.js";
import { defineSubscription, partitionFor } from "../../src/extensions/subscriptions/define.js";
import { compilePatterns, fieldAt } from "../../src/extensions/subscriptions/match.js";
import {
  compileWhere,
  render,
  templateScope,
  unknownTemplatePaths,
} from "../../src/extensions/workflows/template.js";

const event: DomainEvent = {
  id: "1700000000000-3",
  event: "hook.todo_write.executed",
  payload: {
    sessionId: "s1",
    role: "member",
    count: 2,
    todos: [{ content: "a", status: "pending" }],
    gone: null,
  },
  source: "srv-1",
  ts: 1700000000000,
};

describe("event-name patterns", () => {
  it("literal names, and * for any run of characters", () => {
    const match = compilePatterns(["task.completed", "hook.*", "a*z"]);
    assert.ok(match("task.completed"));
    assert.ok(!match("task.completedx"));
    assert.ok(match("hook.pre_tool.decided"));
    assert.ok(!match("hooks.x"));
    assert.ok(match("az") && match("a.b.z") && !match("a.b.zz."));
    assert.ok(compilePatterns(["*"])("anything"));
  });
});

describe("field paths", () => {
  it("read nested values; absent or through a non-object gives undefined", () => {
    assert.equal(fieldAt(event, "payload.sessionId"), "s1");
    assert.equal(fieldAt(event, "payload.todos.0.content"), "a");
    assert.equal(fieldAt(event, "payload.count.x"), undefined);
    assert.equal(fieldAt(event, "payload.nope"), undefined);
  });
});

describe("where conditions", () => {
  const where = (w: Parameters<typeof compileWhere>[0]) => compileWhere(w)(event);
  it("equals, eq, ne, in, exists; all must hold", () => {
    assert.ok(where({ "payload.role": "member", "payload.count": 2 }));
    assert.ok(!where({ "payload.role": "member", "payload.count": 3 }));
    assert.ok(where({ "payload.role": { ne: "master" } }));
    assert.ok(where({ "payload.missing": { ne: "master" } }), "a missing field is ne anything");
    assert.ok(!where({ "payload.role": { ne: "member" } }));
    assert.ok(where({ "payload.role": { in: ["master", "member"] } }));
    assert.ok(!where({ "payload.role": { in: ["master"] } }));
    assert.ok(where({ "payload.sessionId": { exists: true }, "payload.gone": { exists: false } }));
    assert.ok(!where({ "payload.missing": { exists: true } }));
    assert.ok(where({ "payload.todos": { eq: [{ content: "a", status: "pending" }] } }));
    assert.ok(where({}));
  });
});

describe("templates", () => {
  const scope = templateScope(event, { id: "w:1700000000000-3", attempt: 2 });
  it("a template alone gives the value; inside text, its text; missing values are left out", () => {
    assert.deepEqual(
      render(
        {
          to: "{{payload.sessionId}}",
          todos: "{{payload.todos}}",
          count: "{{ payload.count }}",
          text: "{{name}} #{{payload.count}} {{payload.todos}} [{{payload.missing}}] {{delivery.id}}/{{delivery.attempt}}",
          missing: "{{payload.missing}}",
          list: ["{{id}}", 1, true, null],
          whole: "{{event}}",
        },
        scope,
      ),
      {
        to: "s1",
        todos: [{ content: "a", status: "pending" }],
        count: 2,
        text: 'hook.todo_write.executed #2 [{"content":"a","status":"pending"}] [] w:1700000000000-3/2',
        list: ["1700000000000-3", 1, true, null],
        whole: event,
      },
    );
  });

  it("unknown roots are found before a workflow runs", () => {
    assert.deepEqual(unknownTemplatePaths({ a: "{{paylod.x}}", b: ["{{payload.x}} {{nope}}"], c: 3 }), [
      "paylod.x",
      "nope",
    ]);
  });
});

describe("partitions", () => {
  it("the same key, the same partition, in range; no key → 0", () => {
    for (let i = 0; i < 100; i++) {
      const p = partitionFor(`session-${i}`, 8);
      assert.ok(p >= 0 && p < 8);
      assert.equal(partitionFor(`session-${i}`, 8), p);
    }
    assert.equal(partitionFor(undefined, 8), 0);
    const spread = new Set(Array.from({ length: 100 }, (_, i) => partitionFor(`k${i}`, 8)));
    assert.equal(spread.size, 8);
    const sub = defineSubscription({
      name: "p",
      events: ["x"],
      partitionKey: "payload.sessionId",
      handle: async () => undefined,
    });
    assert.equal(sub.partitionOf(event), partitionFor("s1", 8));
    assert.equal(
      defineSubscription({ name: "q", events: ["x"], handle: async () => undefined }).partitions,
      1,
    );
  });
});
