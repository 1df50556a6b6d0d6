/**
 * How `claudebench relay` shows one event to a person: one line of aligned columns
 *   HH:MM:SS.mmm  event name  summary  source
 * where the summary names what the event is about (task id and status, its holder, the
 * session, tool, decision, ...) in at most SUMMARY_WIDTH characters. Colour, when wanted,
 * marks the event name by its tone (outcome or domain) and dims time and source.
 *
 * The web dashboard's Events view shows the same lines (clock, summarize, toneOf): this
 * module uses nothing of Node's or the server's, so the page's bundle imports it as it is.
 */

const EVENT_WIDTH = 28;
const SUMMARY_WIDTH = 72;

/** What a line needs of an event: contract/events.ts' DomainEvent, and the page's LiveEvent. */
interface EventLike {
  ts: number;
  event: string;
  payload: Record<string, unknown>;
  source?: string;
}

/** What an event name says at a glance: how it ended, else which part of the system it is about. */
type Tone = "failure" | "success" | "created" | "task" | "hook" | "fleet";

const ANSI = { dim: "2", red: "31", green: "32", yellow: "33", blue: "34", magenta: "35", cyan: "36" };
type Colour = keyof typeof ANSI;
const COLOUR_OF: Record<Tone, Colour> = {
  failure: "red",
  success: "green",
  created: "cyan",
  task: "blue",
  hook: "magenta",
  fleet: "yellow",
};

type Payload = Record<string, unknown>;
const record = (value: unknown): Payload | undefined =>
  typeof value === "object" && value !== null ? (value as Payload) : undefined;

/** Local wall-clock time with milliseconds. */
export function clock(ts: number): string {
  const d = new Date(ts);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

/** The payload's subject first (task, instance), then its other scalar fields as key=value. */
export function summarize(payload: Payload): string {
  const parts: string[] = [];
  const task = record(payload.task);
  if (task) {
    parts.push(`${task.id} ${task.status}`);
    if (typeof task.assignedTo === "string") parts.push(`@${task.assignedTo}`);
    if (typeof task.text === "string") parts.push(JSON.stringify(task.text.slice(0, 40)));
  }
  const instance = record(payload.instance);
  if (instance) parts.push(`instance=${instance.id}`);
  for (const [key, value] of Object.entries(payload)) {
    if (value === null || value === undefined || typeof value === "object") continue;
    if (key === "workerId" && value === task?.assignedTo) continue; // already shown as @holder
    parts.push(`${key}=${String(value).replace(/\s+/g, " ")}`);
  }
  const text = parts.join(" ");
  return text.length > SUMMARY_WIDTH ? `${text.slice(0, SUMMARY_WIDTH - 1)}…` : text;
}

export function toneOf(event: string): Tone | undefined {
  if (/(failed|dead_lettered|expired|partition\.detected|blocked)$/.test(event)) return "failure";
  if (/(completed|cleared)$/.test(event)) return "success";
  if (/(created|registered|elected)$/.test(event)) return "created";
  if (event.startsWith("task.")) return "task";
  if (event.startsWith("hook.")) return "hook";
  if (event.startsWith("instance.") || event.startsWith("cluster.")) return "fleet";
  return undefined;
}

export function formatEvent(e: EventLike, colour: boolean): string {
  const paint = (text: string, c: Colour | undefined) =>
    colour && c ? `\x1b[${ANSI[c]}m${text}\x1b[0m` : text;
  const tone = toneOf(e.event);
  return [
    paint(clock(e.ts), "dim"),
    paint(e.event.padEnd(EVENT_WIDTH), tone && COLOUR_OF[tone]),
    summarize(e.payload).padEnd(SUMMARY_WIDTH),
    paint(e.source ?? "", "dim"),
  ].join("  ");
}
