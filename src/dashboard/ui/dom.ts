/** Builds elements without HTML strings: every text goes in as text, so nothing is injected. */

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined | ((e: Event) => void)>;

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

const SVG = "http://www.w3.org/2000/svg";

/** A line chart of `points` (see model/series.ts) with an accessible name. */
export function chart(label: string, points: string): SVGSVGElement {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "chart");
  svg.setAttribute("viewBox", "0 0 300 80");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", points);
  svg.append(line);
  return svg;
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
