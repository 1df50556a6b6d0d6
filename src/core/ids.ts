/**
 * The alphabet of ids that become part of Redis key names (instances, workers, channels,
 * projects, batches, decisions, idempotency keys): letters, digits and . _ : @ / - — no spaces,
 * no control characters, nothing a KEYS/SCAN glob would read as a pattern (* ? [ ]).
 */
const KEY_SAFE = "A-Za-z0-9._:@/-";
const NOT_KEY_SAFE = new RegExp(`[^${KEY_SAFE}]`, "g");

/** An id of 1 to `max` key-safe characters. */
export const keySafeId = (max = 128): RegExp => new RegExp(`^[${KEY_SAFE}]{1,${max}}$`);

/** What `keySafeId()` accepts, in words, for validation messages. */
export const KEY_SAFE_ID_HINT = "letters, digits and . _ : @ / - (max 128)";

/** `text` as a key-safe id of at most `max` characters: every other character becomes "_". */
export const toKeySafeId = (text: string, max: number): string =>
  text.replace(NOT_KEY_SAFE, "_").slice(0, max);
