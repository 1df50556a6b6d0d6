import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isoTime } from "../../src/core/iso-time.js";

/** isoTime must write exactly what Date#toISOString writes, whatever its cache holds. */
describe("isoTime", () => {
  const same = (ms: number) => assert.equal(isoTime(ms), new Date(ms).toISOString(), `for ${ms}`);

  it("matches toISOString around now, a lease later, and at millisecond and second edges", () => {
    const now = Date.UTC(2026, 10, 24, 14, 59, 59, 998);
    for (let d = 0; d < 3_000; d++) {
      same(now + d);
      same(now + 30_000 + d); // interleaved with the lease expiry, which lands in another slot
    }
  });

  it("matches across the whole range of four-digit years, with slots reused", () => {
    let x = 0x2545f491;
    for (let i = 0; i < 20_000; i++) {
      x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
      same(Math.floor((x / 2 ** 31) * 253_402_300_799_999));
    }
    for (const ms of [
      0, 1, 999, 1000, 946_684_799_999, 946_684_800_000, 951_782_400_000, 253_402_300_799_999,
    ])
      same(ms);
  });

  it("drops a fraction of a millisecond as Date does", () => {
    same(1_795_531_917_954.7);
    same(0.5);
  });

  it("falls back to Date outside four-digit years, and throws on NaN as Date does", () => {
    same(-1);
    same(-62_198_755_200_000);
    same(253_402_300_800_000);
    same(8.64e15);
    assert.throws(() => isoTime(Number.NaN), RangeError);
  });
});
