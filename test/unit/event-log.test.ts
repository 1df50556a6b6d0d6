import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseEventEntry } from "../../src/domain/events/event-log.js";

/** parseEventEntry's typing of task events (the stored hash → task.get's shape); the end-to-end view is task-events.test.ts. */

const entry = (event: string, payload: unknown): [string, string[]] => [
  "1733600000123-0",
  ["event", event, "source", "srv-1", "payload", JSON.stringify(payload)],
];

const hash = {
  id: "t-5",
  seq: "5",
  text: "x",
  status: "pending",
  priority: "10",
  attempts: "0",
  maxAttempts: "3",
  createdAt: "1733600000001",
  updatedAt: "1733600000001",
  "m:k": '"v"',
};

describe("parseEventEntry", () => {
  it("types the hash a queue script stored, and the payload's time and field names", () => {
    const e = parseEventEntry(
      entry("task.updated", { task: hash, changed: ["priority", "m:k"], retryAt: 1733600001000 }),
    );
    assert.deepEqual(e?.payload, {
      task: {
        id: "t-5",
        text: "x",
        status: "pending",
        priority: 10,
        attempts: 0,
        maxAttempts: 3,
        metadata: { k: "v" },
        createdAt: "2024-12-07T19:33:20.001Z",
        updatedAt: "2024-12-07T19:33:20.001Z",
      },
      changed: ["priority", "metadata.k"],
      retryAt: "2024-12-07T19:33:21.000Z",
    });
  });

  it("leaves a task that is already typed, and other events' fields, as they are", () => {
    const typed = { id: "t-5", priority: 10, createdAt: "2024-12-07T19:33:20.001Z", metadata: {} };
    assert.deepEqual(parseEventEntry(entry("task.noted", { task: typed, retryAt: 5 }))?.payload, {
      task: typed,
      retryAt: 5,
    });
    assert.deepEqual(parseEventEntry(entry("plugin.task", { task: hash }))?.payload, { task: hash });
  });

  it("drops a task event whose hash cannot be read; a null payload reads as empty", () => {
    const { createdAt: _, ...damaged } = hash;
    assert.equal(parseEventEntry(entry("task.created", { task: damaged })), null);
    assert.deepEqual(parseEventEntry(entry("task.created", null))?.payload, {});
  });
});
