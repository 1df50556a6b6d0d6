/**
 * `new Date(ms).toISOString()`, cheaper for the timestamps a task answer carries: V8's
 * toISOString costs ~1.5 µs, and a task lifecycle formats about ten of them
 * (docs/performance.md, "Task engine"). The text up to the second is kept per second in a few
 * slots, so "now" and "now + lease" do not evict each other; the milliseconds are appended.
 */

const SLOTS = 16; // a power of two: the slot is the second's low bits
/** Year 10000: from there on toISOString writes a signed six-digit year, which is not cached. */
const YEAR_10000_MS = 253_402_300_800_000;

const slotSecond = new Float64Array(SLOTS).fill(-1);
const slotPrefix: string[] = new Array<string>(SLOTS).fill("");

export function isoTime(ms: number): string {
  if (!(ms >= 0 && ms < YEAR_10000_MS)) return new Date(ms).toISOString(); // NaN throws, as it did
  const whole = Math.trunc(ms); // Date drops a fraction of a millisecond the same way
  const second = Math.floor(whole / 1000);
  const slot = second & (SLOTS - 1);
  if (slotSecond[slot] !== second) {
    slotSecond[slot] = second;
    slotPrefix[slot] = new Date(second * 1000).toISOString().slice(0, 20); // "YYYY-MM-DDTHH:MM:SS."
  }
  const milli = whole - second * 1000;
  return `${slotPrefix[slot]}${milli < 10 ? "00" : milli < 100 ? "0" : ""}${milli}Z`;
}
