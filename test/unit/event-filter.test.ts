import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AppError } from "../../src/core/errors.js";
import { sessionInstanceId } from "../../src/domain/coordination/identity.js";
import { parseEventQuery } from "../../src/transports/event-filter.js";

const refused = (query: string) => () => parseEventQuery(new URLSearchParams(query), { sessionInstanceId });
const isValidation = (err: unknown) => err instanceof AppError && err.code === "VALIDATION";

describe("the query of a live-event subscription", () => {
  it("reads the known parameters", () => {
    const query = parseEventQuery(new URLSearchParams("prefix=task.&task=t-1&lastEventId=1-0"), {
      sessionInstanceId,
    });
    assert.equal(query.afterId, "1-0");
  });

  // `name in PARAMS` was true for Object.prototype's members: `?__proto__=1` subscribed to
  // everything instead of being refused like any other unknown parameter (found by the fuzz test).
  for (const name of ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf", "x"]) {
    it(`refuses the unknown parameter ${name}`, () => {
      assert.throws(refused(`${name}=1`), isValidation);
      assert.throws(refused(`task=t-1&${name}=1`), isValidation);
    });
  }
});
