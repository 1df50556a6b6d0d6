import { FREE_FORM_MAX_BYTES, JSON_MAX_DEPTH, nestedDeeperThan } from "../core/json-bounds.js";

/**
 * What a command's stdout becomes as its task's result (docs/tasks.md, "The shell worker"):
 * the JSON it printed, or else its text as `{stdout}`. A result must be one task.complete
 * takes: at most FREE_FORM_MAX_BYTES as JSON, nested at most RESULT_MAX_DEPTH levels. One the
 * server would refuse is sent as the end of the output instead, `{stdout: <tail>, truncated: true}`:
 * a refused completion records nothing, and running the command again prints the same.
 */

/** Characters of non-JSON output kept: its end, where a command says how it finished. */
export const TEXT_MAX_CHARS = 64 * 1024;

/**
 * Characters of stdout a worker keeps while the command runs, so that a command that prints
 * without end does not fill the worker's memory: past it only the end is kept (and sent as
 * text). JSON output longer than this is over the result's limit unless it is mostly spaces.
 */
export const STDOUT_KEPT_CHARS = 4 * FREE_FORM_MAX_BYTES;

/** task.complete's params are one level (JSON_MAX_DEPTH counts them), its result the next. */
const RESULT_MAX_DEPTH = JSON_MAX_DEPTH - 1;

/** The result for `stdout`; `cut` when its beginning was dropped (see STDOUT_KEPT_CHARS). */
export function resultFromOutput(stdout: string, cut = false): unknown {
  const text = stdout.trim();
  if (!cut) {
    if (text === "") return undefined;
    const json = parseJson(text);
    if (json !== NOT_JSON && fits(json) && !nestedDeeperThan(json, RESULT_MAX_DEPTH)) return json;
    if (text.length <= TEXT_MAX_CHARS && fits({ stdout: text })) return { stdout: text };
  }
  return { stdout: tailThatFits(text), truncated: true };
}

const NOT_JSON = Symbol("not JSON");

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return NOT_JSON;
  }
}

const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

const fits = (value: unknown) => jsonBytes(value) <= FREE_FORM_MAX_BYTES;

/**
 * The longest end of `text`, at most TEXT_MAX_CHARS, whose `{stdout, truncated}` fits. A
 * character takes 1 to 6 bytes once escaped (a control character is `\u0001`): a binary
 * search over the length finds it in about 17 tries.
 */
function tailThatFits(text: string): string {
  const budget = FREE_FORM_MAX_BYTES - jsonBytes({ stdout: "", truncated: true });
  const tailOf = (length: number) => {
    const tail = text.slice(text.length - length);
    // not half a surrogate pair at the start
    return /^[\uDC00-\uDFFF]/.test(tail) ? tail.slice(1) : tail;
  };
  let fitting = 0;
  let over = Math.min(text.length, TEXT_MAX_CHARS) + 1;
  while (over - fitting > 1) {
    const length = Math.floor((fitting + over) / 2);
    // the quotes are counted in the budget already
    if (jsonBytes(tailOf(length)) - 2 <= budget) fitting = length;
    else over = length;
  }
  return tailOf(fitting);
}
