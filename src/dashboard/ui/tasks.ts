import { boardColumns, filterTasks, type TaskFilter } from "../model/filters.js";
import { TASK_STATUSES, type TaskView } from "../model/records.js";
import type { HistoryEntry } from "../model/store.js";
import type { App, View } from "./app.js";
import { confirmAction } from "./confirm.js";
import { dateTime, fill, h, keyedChildren, redraw, setText, time } from "./dom.js";

const ROW_HEIGHT = 28;
/** Cards a column shows at first, and how many more each "Show more" adds; the table lists every match. */
const CARDS_STEP = 25;
/** The table's columns, in the order drawRows fills a row's cells. */
const TABLE_COLUMNS = ["id", "text", "status", "prio", "assignee", "updated"];
/** The detail panel's fields: a label and the selected task's value for it. */
const DETAIL_FIELDS: [string, (t: TaskView) => string][] = [
  ["Status", (t) => t.status + (t.deadLettered ? " (dead letter)" : "")],
  ["Priority", (t) => String(t.priority)],
  ["Channel", (t) => t.channel ?? "—"],
  ["Lease holder", (t) => t.assignedTo ?? "—"],
  ["Lease expires", (t) => dateTime(t.leaseExpiresAt)],
  ["Attempts", (t) => `${t.attempts} of ${t.maxAttempts}`],
  ["Created", (t) => dateTime(t.createdAt)],
];
/** After a transition of the selected task, its calls are read again once the audit trail has them (written every 200 ms). */
const AUDIT_DELAY_MS = 600;

/** The names the CLI accepts for priorities (low=25, medium=50, high=75, critical=100). */
const priorityLevel = (p: number) => (p >= 100 ? "critical" : p >= 75 ? "high" : p >= 50 ? "medium" : "low");

/** One call on a task, from the audit trail (system.audit): who did what. */
interface AuditCall {
  id: string;
  at: string;
  method: string;
  outcome: string;
  transport: string;
  instanceId: string | null;
  sessionId: string | null;
  remoteAddress: string | null;
}

/** "dashboard (127.0.0.1)" for a caller that named itself, else its address and transport. */
function callerOf(c: AuditCall): string {
  const named = c.instanceId ?? c.sessionId;
  if (named) return c.remoteAddress ? `${named} (${c.remoteAddress})` : named;
  return `${c.remoteAddress ?? "a client"} over ${c.transport}`;
}

/** A line of the history: a transition seen on the event stream, or a call from the audit trail. */
type HistoryLine = { key: string; ts: number; text: string; kind: "transition" | "call" };

function transitionLine(e: HistoryEntry): HistoryLine {
  const by = e.actor ? ` by ${e.actor}` : "";
  const held = e.heldBy ? ` (held by ${e.heldBy})` : "";
  return {
    key: `e:${e.id}`,
    ts: e.ts,
    kind: "transition",
    text: `${time(e.ts)} ${e.event} → ${e.status}${by}${held}${e.detail ? ` — ${e.detail}` : ""}`,
  };
}

function callLine(c: AuditCall): HistoryLine {
  const ts = Date.parse(c.at);
  const outcome = c.outcome === "ok" ? "" : ` → ${c.outcome}`;
  return { key: `c:${c.id}`, ts, kind: "call", text: `${time(ts)} ${c.method} by ${callerOf(c)}${outcome}` };
}

/**
 * The board (cards with priority, holder and error; every filter applies; "Show more" per
 * column), the virtualised table of every match, and the selected task's detail in a panel
 * fixed to the viewport beside them, wherever the click was, with its actions and history.
 */
export function tasksView(app: App): View {
  const filter: TaskFilter = {};
  let selected: string | undefined;
  let rows: TaskView[] = [];

  const act = async (label: string, method: string, params: Record<string, unknown>) => {
    try {
      await app.api.act(method, params);
      app.notify(`${label}: done`);
    } catch (err) {
      app.notify(`${label}: ${(err as Error).message}`, true);
    }
  };

  const createForm = h(
    "form",
    { class: "bar", "aria-label": "Create a task" },
    h("label", {}, "Text", h("input", { name: "text", required: true, maxlength: 2000 })),
    h("label", {}, "Priority", h("input", { name: "priority", type: "number", min: 0, max: 100, value: 50 })),
    h("label", {}, "Channel", h("input", { name: "channel" })),
    h("button", { type: "submit" }, "Create task"),
  );
  createForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = new FormData(createForm);
    const params: Record<string, unknown> = {
      text: String(data.get("text")),
      priority: Number(data.get("priority")),
    };
    const channel = String(data.get("channel") ?? "").trim();
    if (channel) params.channel = channel;
    void act("create", "task.create", params).then(() => createForm.reset());
  });

  const filterForm = h(
    "form",
    { class: "bar", role: "search", "aria-label": "Filter tasks" },
    h(
      "label",
      {},
      "Status",
      h(
        "select",
        { name: "status" },
        h("option", { value: "" }, "any"),
        ...TASK_STATUSES.map((s) => h("option", { value: s }, s)),
      ),
    ),
    h("label", {}, "Channel", h("input", { name: "channel" })),
    h("label", {}, "Assignee", h("input", { name: "assignee" })),
    h("label", {}, "Min priority", h("input", { name: "minPriority", type: "number", min: 0, max: 100 })),
    h("label", {}, "Text", h("input", { name: "text", type: "search" })),
  );
  filterForm.addEventListener("input", () => {
    const data = new FormData(filterForm);
    const text = (name: string) => String(data.get(name) ?? "").trim();
    filter.status = text("status") as TaskFilter["status"];
    filter.channel = text("channel");
    filter.assignee = text("assignee");
    filter.minPriority = text("minPriority") === "" ? undefined : Number(text("minPriority"));
    filter.text = text("text");
    app.schedule();
  });
  filterForm.addEventListener("submit", (e) => e.preventDefault());

  const board = h("div", { class: "board", "aria-label": "Task board by status" });
  /** One column per status, made once; its cards keep their element while they stay shown. */
  const boardColumnViews = TASK_STATUSES.map((status) => {
    const title = h("h3");
    const cards = h("div", { class: "cards-list" });
    const more = h("button", { type: "button", class: "more", hidden: true });
    const root = h(
      "div",
      { class: "column", "data-status": status, role: "region", "aria-label": `${status} tasks` },
      title,
      cards,
      more,
    );
    const column = {
      status,
      title,
      cards,
      more,
      root,
      limit: CARDS_STEP,
      rendered: new Map<string, HTMLElement>(),
    };
    more.addEventListener("click", () => {
      column.limit += CARDS_STEP;
      app.schedule();
    });
    board.append(root);
    return column;
  });
  const makeCard = (t: TaskView) =>
    h(
      "button",
      {
        type: "button",
        class: "task-card",
        "data-task-id": t.id,
        "data-key": `card:${t.id}`,
        onclick: () => select(t.id),
      },
      h("span", { class: "card-head" }, h("span", { class: "task-id" }), h("span", { class: "prio" })),
      h("span", { class: "card-text" }),
      h("span", { class: "holder" }),
      h("span", { class: "card-error" }),
    );
  const updateCard = (card: HTMLElement, t: TaskView) => {
    const [head, text, holder, error] = card.children as unknown as HTMLElement[];
    const [id, prio] = (head as HTMLElement).children as unknown as HTMLElement[];
    setText(id as HTMLElement, t.id);
    setText(prio as HTMLElement, String(t.priority));
    (prio as HTMLElement).className = `prio ${priorityLevel(t.priority)}`;
    (prio as HTMLElement).title = `priority ${t.priority} (${priorityLevel(t.priority)})`;
    setText(text as HTMLElement, t.text);
    setText(holder as HTMLElement, t.assignedTo ? `held by ${t.assignedTo}` : "");
    (holder as HTMLElement).hidden = !t.assignedTo;
    setText(error as HTMLElement, t.error ?? "");
    (error as HTMLElement).hidden = !t.error;
    card.setAttribute("aria-pressed", String(t.id === selected));
  };

  const count = h("p", { class: "muted", "aria-live": "polite" });
  const spacer = h("div");
  const scroller = h("div", { class: "scroller", tabindex: 0, "aria-label": "Tasks table" }, spacer);
  scroller.addEventListener("scroll", () => drawRows());
  const detail = h("aside", { id: "detail", class: "drawer", "aria-label": "Task detail", hidden: true });

  const select = (id: string | undefined) => {
    selected = id;
    app.schedule();
  };
  // Rows and cards keep their element while they stay shown, but a card whose task changes
  // status moves to another column as a new element, and events keep arriving between a press
  // and its release: the mouse selects on the press. Keyboard selection stays on the elements.
  const selectOnPress = (container: HTMLElement) =>
    container.addEventListener("pointerdown", (e) => {
      if (e.button !== 0 || !(e.target instanceof Element)) return;
      const id = e.target.closest("[data-task-id]")?.getAttribute("data-task-id");
      if (id) select(id);
    });
  selectOnPress(board);
  selectOnPress(scroller);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && selected && !document.querySelector("dialog[open]")) select(undefined);
  });

  const head = h(
    "div",
    { class: "row head", role: "row" },
    ...TABLE_COLUMNS.map((c) => h("span", { role: "columnheader" }, c)),
  );
  head.style.top = "0";
  spacer.append(head);
  /** The rows on screen by task id; rows keep their element while they stay visible. */
  const rendered = new Map<string, HTMLElement>();
  const makeRow = (t: TaskView) => {
    const row = h(
      "div",
      { class: "row", role: "row", tabindex: 0, "data-task-id": t.id, "data-key": `row:${t.id}` },
      ...TABLE_COLUMNS.map(() => h("span")),
    );
    row.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") select(t.id);
    });
    return row;
  };

  function drawRows(): void {
    spacer.style.height = `${(rows.length + 1) * ROW_HEIGHT}px`;
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW_HEIGHT) - 5);
    const last = Math.min(rows.length, first + Math.ceil(scroller.clientHeight / ROW_HEIGHT) + 10);
    const visible = rows.slice(first, last);
    redraw(spacer, () =>
      keyedChildren(
        spacer,
        1,
        visible,
        rendered,
        (t) => t.id,
        makeRow,
        (row, t, i) => {
          const [id, text, status, priority, assignee, updated] = row.children;
          setText(id as Element, t.id);
          setText(text as Element, t.text);
          setText(status as Element, t.status);
          (status as Element).className = t.status;
          setText(priority as Element, String(t.priority));
          setText(assignee as Element, t.assignedTo ?? "");
          setText(updated as Element, time(t.updatedAt));
          row.setAttribute("aria-selected", String(t.id === selected));
          row.style.top = `${(first + i + 1) * ROW_HEIGHT}px`;
        },
      ),
    );
  }

  /**
   * The detail panel of the selected task, made once per selected task and then updated in
   * place: its buttons stay the same nodes while the task's events arrive, so a press and its
   * release land on one button and the click is not lost.
   */
  let panel: { id: string; update(t: TaskView): void; close(): void } | undefined;

  const makePanel = (id: string): NonNullable<typeof panel> => {
    const heading = h("h2");
    const fields = DETAIL_FIELDS.map(([label, value]) => ({ label, value, dd: h("dd") }));
    const error = h("p", { class: "error-text" });
    const result = h("pre", { "aria-label": "Result" });
    const priority = h("input", { type: "number", min: 0, max: 100, "aria-label": "New priority" });
    const button = (label: string, onclick: () => void, cls?: string) =>
      h("button", { type: "button", onclick, class: cls }, label);
    const cancel = button(
      "Cancel task",
      () =>
        void confirmAction({
          title: `Cancel ${id}?`,
          message:
            "It will not be handed out again, and its holder's completion will be refused. Retry brings it back.",
          confirm: "Yes, cancel it",
          keep: "Keep it",
          reasonLabel: "Reason (optional)",
        }).then((reason) => {
          if (reason !== undefined)
            return act("cancel", "task.cancel", { id, reason: reason || "cancelled from the dashboard" });
        }),
      "danger",
    );
    const retry = button("Retry", () => act("retry", "task.retry", { id }));
    const release = button("Release", () => act("release", "task.unassign", { taskId: id }));
    const history = h("ol", { class: "history", "aria-label": "Task history" });
    const historyItems = new Map<string, HTMLElement>();
    const noHistory = h("p", { class: "muted" }, "No transitions or calls seen yet.");

    // The calls on this task (who acted) from the audit trail, read when the panel opens and
    // again shortly after each transition the page sees.
    let calls: AuditCall[] = [];
    let seenTransitions = -1;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let closed = false;
    const loadCalls = async () => {
      timer = undefined;
      try {
        const answer = await app.api.call<{ records: AuditCall[] }>("system.audit", {
          target: id,
          limit: 50,
        });
        if (closed) return;
        calls = answer.records;
        app.schedule();
      } catch {
        // no audit trail to show (an older server): the transitions stand alone
      }
    };

    const close = h("button", { type: "button", class: "close", "aria-label": "Close" }, "×");
    close.addEventListener("click", () => select(undefined));
    fill(
      detail,
      h("div", { class: "drawer-head" }, heading, close),
      h("dl", {}, ...fields.flatMap((f) => [h("dt", {}, f.label), f.dd])),
      error,
      result,
      h(
        "div",
        { class: "bar" },
        priority,
        button("Set priority", () =>
          act("priority", "task.update", { id, updates: { priority: Number(priority.value) } }),
        ),
        cancel,
        retry,
        release,
      ),
      h("h3", {}, "History"),
      history,
      noHistory,
    );
    return {
      id,
      close() {
        closed = true;
        clearTimeout(timer);
      },
      update(t) {
        setText(heading, `${t.id}: ${t.text}`);
        for (const f of fields) setText(f.dd, f.value(t));
        error.hidden = !t.error;
        setText(error, t.error ? `Error: ${t.error}` : "");
        result.hidden = t.result === undefined;
        setText(result, t.result === undefined ? "" : JSON.stringify(t.result, null, 2));
        // The default value, not the value: the input follows the task's priority until the
        // person types one, which a redraw must not reset (pressing "Set priority" takes the
        // focus from the input, so a redraw can come before the click reads it).
        priority.defaultValue = String(t.priority);
        const finished = t.status === "completed" || t.status === "failed" || t.status === "cancelled";
        cancel.disabled = finished;
        retry.disabled = t.status !== "failed" && t.status !== "cancelled";
        release.disabled = t.status !== "in_progress";
        const transitions = app.store.history.get(t.id) ?? [];
        if (transitions.length !== seenTransitions) {
          if (seenTransitions === -1) void loadCalls();
          else {
            clearTimeout(timer);
            timer = setTimeout(() => void loadCalls(), AUDIT_DELAY_MS);
          }
          seenTransitions = transitions.length;
        }
        const lines = [...transitions.map(transitionLine), ...calls.map(callLine)].sort(
          (a, b) => a.ts - b.ts || (a.kind === b.kind ? 0 : a.kind === "call" ? -1 : 1),
        );
        history.hidden = lines.length === 0;
        noHistory.hidden = lines.length > 0;
        keyedChildren(
          history,
          0,
          lines,
          historyItems,
          (l) => l.key,
          (l) => h("li", { class: l.kind }),
          (li, l) => setText(li, l.text),
        );
      },
    };
  };

  function drawDetail(): void {
    const t = selected ? app.store.tasks.get(selected) : undefined;
    // Not while the person types a new priority: the redraw would wipe it.
    if (document.activeElement instanceof HTMLInputElement && detail.contains(document.activeElement)) return;
    detail.hidden = !t;
    root.classList.toggle("detail-open", Boolean(t)); // wide screens make room for the panel
    if (!t) {
      panel?.close();
      panel = undefined;
      return;
    }
    if (panel?.id !== t.id) {
      panel?.close();
      panel = makePanel(t.id);
    }
    panel.update(t);
  }

  const root = h(
    "section",
    { "aria-labelledby": "tasks-title" },
    h("h2", { id: "tasks-title" }, "Tasks"),
    createForm,
    filterForm,
    board,
    count,
    scroller,
    detail,
  );

  return {
    id: "tasks",
    title: "Tasks",
    root,
    update() {
      const columns = boardColumns(app.store.tasks.values(), filter);
      redraw(board, () => {
        for (const column of boardColumnViews) {
          const tasks = columns[column.status];
          const hidden = Math.max(0, tasks.length - column.limit);
          setText(column.title, `${column.status.replace("_", " ")} (${tasks.length})`);
          keyedChildren(
            column.cards,
            0,
            tasks.slice(0, column.limit),
            column.rendered,
            (t) => t.id,
            makeCard,
            updateCard,
          );
          column.more.hidden = hidden === 0;
          setText(column.more, `Show ${Math.min(CARDS_STEP, hidden)} more (${hidden} not shown)`);
        }
      });
      rows = filterTasks(app.store.tasks.values(), filter);
      count.textContent = `${rows.length} of ${app.store.tasks.size} tasks`;
      drawRows();
      drawDetail();
    },
  };
}
