import { boardColumns, filterTasks, type TaskFilter } from "../model/filters.js";
import { TASK_STATUSES, type TaskView } from "../model/records.js";
import type { App, View } from "./app.js";
import { dateTime, fill, h, keyedChildren, redraw, setText, time } from "./dom.js";

const ROW_HEIGHT = 28;
/** Cards per board column: the table below lists every match. */
const CARDS_PER_COLUMN = 25;
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

/** The board, the virtualised table, the detail of the selected task, and its actions. */
export function tasksView(app: App): View {
  const filter: TaskFilter = {};
  let selected: string | undefined;
  let rows: TaskView[] = [];

  const act = async (label: string, method: string, params: Record<string, unknown>) => {
    try {
      await app.api.call(method, params);
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
    const root = h(
      "div",
      { class: "column", "data-status": status, role: "region", "aria-label": `${status} tasks` },
      title,
    );
    board.append(root);
    return { status, title, root, cards: new Map<string, HTMLElement>() };
  });
  const makeCard = (t: TaskView) =>
    h("button", {
      type: "button",
      class: "task-card",
      "data-task-id": t.id,
      "data-key": `card:${t.id}`,
      onclick: () => select(t.id),
    });
  const count = h("p", { class: "muted", "aria-live": "polite" });
  const spacer = h("div");
  const scroller = h("div", { class: "scroller", tabindex: 0, "aria-label": "Tasks table" }, spacer);
  scroller.addEventListener("scroll", () => drawRows());
  const detail = h("aside", { id: "detail", "aria-label": "Task detail" });

  const select = (id: string) => {
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
  let panel: { id: string; update(t: TaskView): void } | undefined;

  const makePanel = (id: string): NonNullable<typeof panel> => {
    const heading = h("h2");
    const fields = DETAIL_FIELDS.map(([label, value]) => ({ label, value, dd: h("dd") }));
    const error = h("p", { class: "error-text" });
    const result = h("pre", { "aria-label": "Result" });
    const priority = h("input", { type: "number", min: 0, max: 100, "aria-label": "New priority" });
    const button = (label: string, onclick: () => void) => h("button", { type: "button", onclick }, label);
    const cancel = button("Cancel task", () =>
      act("cancel", "task.cancel", { id, reason: "cancelled from the dashboard" }),
    );
    const retry = button("Retry", () => act("retry", "task.retry", { id }));
    const release = button("Release", () => act("release", "task.unassign", { taskId: id }));
    const history = h("ol", { "aria-label": "Task history" });
    const historyItems = new Map<string, HTMLElement>();
    const noHistory = h("p", { class: "muted" }, "No transitions seen since the page opened.");
    fill(
      detail,
      heading,
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
        const entries = app.store.history.get(t.id) ?? [];
        history.hidden = entries.length === 0;
        noHistory.hidden = entries.length > 0;
        keyedChildren(
          history,
          0,
          entries,
          historyItems,
          (e) => e.id,
          () => h("li"),
          (li, e) =>
            setText(
              li,
              `${time(e.ts)} ${e.event} → ${e.status}${e.actor ? ` by ${e.actor}` : ""}${e.detail ? ` (${e.detail})` : ""}`,
            ),
        );
      },
    };
  };

  function drawDetail(): void {
    const t = selected ? app.store.tasks.get(selected) : undefined;
    // Not while the person types a new priority: the redraw would wipe it.
    if (document.activeElement instanceof HTMLInputElement && detail.contains(document.activeElement)) return;
    if (!t) {
      panel = undefined;
      fill(detail, h("p", { class: "muted" }, "Select a task to see its history and act on it."));
      return;
    }
    if (panel?.id !== t.id) panel = makePanel(t.id);
    panel.update(t);
  }

  const root = h(
    "section",
    { "aria-labelledby": "tasks-title" },
    h("h2", { id: "tasks-title" }, "Tasks"),
    createForm,
    filterForm,
    board,
    h("div", { class: "split" }, h("div", {}, count, scroller), detail),
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
          setText(column.title, `${column.status} (${tasks.length})`);
          keyedChildren(
            column.root,
            1,
            tasks.slice(0, CARDS_PER_COLUMN),
            column.cards,
            (t) => t.id,
            makeCard,
            (card, t) => {
              setText(card, `${t.id} · ${t.text}`);
              card.setAttribute("aria-pressed", String(t.id === selected));
            },
          );
        }
      });
      rows = filterTasks(app.store.tasks.values(), filter);
      count.textContent = `${rows.length} of ${app.store.tasks.size} tasks`;
      drawRows();
      drawDetail();
    },
  };
}
