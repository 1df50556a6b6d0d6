/** Builds elements without HTML strings: every text goes in as text, so nothing is injected. */

export type Child = Node | string | number | null | undefined | false;
export type Attrs = Record<string, string | number | boolean | undefined | ((e: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "number" ? String(c) : c);
  }
}

/** Replaces an element's content. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/**
 * A table whose cells carry their column's name (`data-label`): below 640 px wide the
 * stylesheet lays each row out as a card of "label: value" lines, so no table needs a phone
 * to scroll sideways. `rows` are the cells' contents, one list per row.
 */
export function dataTable(
  attrs: Attrs,
  columns: readonly string[],
  rows: readonly { attrs?: Attrs; cells: Child[] }[],
  caption?: Child,
): HTMLTableElement {
  return h(
    "table",
    { ...attrs, class: `data ${attrs.class ?? ""}`.trim() },
    caption ? h("caption", { class: "muted" }, caption) : null,
    h("thead", {}, h("tr", {}, ...columns.map((c) => h("th", { scope: "col" }, c)))),
    h(
      "tbody",
      {},
      ...rows.map((r) =>
        h("tr", r.attrs ?? {}, ...r.cells.map((cell, i) => h("td", { "data-label": columns[i] }, cell))),
      ),
    ),
  );
}

/** A form's fields by name, trimmed. */
export const formValues = (form: HTMLFormElement): Record<string, string> =>
  Object.fromEntries([...new FormData(form)].map(([k, v]) => [k, String(v).trim()]));

/** "1 worker", "3 workers". */
export const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** How long ago, for a person: "4 s ago", "3 min ago", "2 h ago". */
export function ago(ms: number | undefined, now = Date.now()): string {
  if (!ms) return "—";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

export const time = (ms: number | undefined) => (ms ? new Date(ms).toLocaleTimeString() : "—");
export const dateTime = (ms: number | undefined) => (ms ? new Date(ms).toLocaleString() : "—");

/**
 * Redraws `container` and gives focus back to the element that had it (matched by its
 * `data-key`), so live updates do not throw a keyboard user out of a list.
 */
export function redraw(container: Element, draw: () => void): void {
  const active = document.activeElement;
  const key = active instanceof HTMLElement && container.contains(active) ? active.dataset.key : undefined;
  draw();
  if (key) container.querySelector<HTMLElement>(`[data-key="${CSS.escape(key)}"]`)?.focus();
}

/** Sets an element's text only when it differs: an unchanged cell is not touched. */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/**
 * Makes `container`'s children from position `from` on one element per item, in order,
 * reusing the element an item had before (by key, in `rendered`) and updating it in place.
 * While events arrive the element under the pointer or with focus stays the same node, so a
 * press and its release land on one element and a click is not lost.
 */
export function keyedChildren<T>(
  container: Element,
  from: number,
  items: readonly T[],
  rendered: Map<string, HTMLElement>,
  key: (item: T) => string,
  make: (item: T) => HTMLElement,
  update: (el: HTMLElement, item: T, index: number) => void,
): void {
  const kept = new Map<string, HTMLElement>();
  items.forEach((item, i) => {
    const k = key(item);
    const el = rendered.get(k) ?? make(item);
    update(el, item, i);
    kept.set(k, el);
    const at = container.children[from + i] ?? null;
    if (at !== el) container.insertBefore(el, at);
  });
  for (const [k, el] of rendered) if (!kept.has(k)) el.remove();
  rendered.clear();
  for (const [k, el] of kept) rendered.set(k, el);
}
