import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatDuration } from "../../src/client/duration.js";
import type { FailAnswer } from "../../src/client/http-client.js";
import {
  failureFate,
  STDERR_LINE_CHARS,
  STDERR_SHOWN_LINES,
  stderrTail,
  WorkerTally,
} from "../../src/client/worker-report.js";
import type { Task } from "../../src/contract/tasks.js";

/** The worker's terminal lines: a failure's stderr and fate, the summary at exit. */

describe("stderrTail", () => {
  it("keeps the last non-blank lines, each cut to one terminal line", () => {
    const stderr = `${Array.from({ length: 9 }, (_, i) => `line ${i}`).join("\n")}\n\n  \n${"x".repeat(500)}\r\n`;
    const tail = stderrTail(stderr);
    assert.equal(tail.length, STDERR_SHOWN_LINES);
    assert.deepEqual(tail.slice(0, -1), ["line 5", "line 6", "line 7", "line 8"]);
    assert.equal(tail.at(-1)?.length, STDERR_LINE_CHARS);
    assert.ok(tail.at(-1)?.endsWith("…"));
  });

  it("shows nothing for a command that wrote nothing to stderr", () => {
    assert.deepEqual(stderrTail(""), []);
    assert.deepEqual(stderrTail("\n \n"), []);
  });
});

describe("failureFate", () => {
  const task = (fields: Partial<Task>) =>
    ({ id: "t-1", status: "pending", updatedAt: "2025-01-01T00:00:10.000Z", ...fields }) as Task;

  it("a retry says in how long, by the server's clock alone", () => {
    const answer: FailAnswer = {
      retrying: true,
      deadLettered: false,
      retryAt: "2025-01-01T00:00:12.500Z",
      task: task({}),
    };
    assert.equal(failureFate(answer), "retry in 2.5s");
  });

  it("a task out of attempts, or failed for good, is dead-lettered", () => {
    assert.equal(
      failureFate({ retrying: false, deadLettered: true, task: task({ status: "failed" }) }),
      "dead-lettered",
    );
  });
});

describe("WorkerTally", () => {
  it("sums up what the worker did and for how long", () => {
    const tally = new WorkerTally(0);
    assert.equal(tally.summary(4200), "summary: done 0, failed 0; ran 4.2s");
    tally.done = 12;
    tally.retrying = 2;
    tally.deadLettered = 1;
    tally.released = 1;
    tally.lost = 1;
    assert.equal(
      tally.summary(62_000),
      "summary: done 12, failed 3 (2 to retry, 1 dead-lettered), released 1, lost 1; ran 1m 02s",
    );
  });
});

describe("formatDuration", () => {
  it("tenths under ten seconds, whole seconds under a minute, then minutes and hours", () => {
    assert.deepEqual([0, 420, 9940, 9960, 59_400, 59_600, 3_599_000, 7_620_000].map(formatDuration), [
      "0.0s",
      "0.4s",
      "9.9s",
      "10s",
      "59s",
      "1m 00s",
      "59m 59s",
      "2h 07m",
    ]);
  });
});
