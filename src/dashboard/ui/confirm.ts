import { h } from "./dom.js";

/**
 * Asks a person to confirm a destructive action in a modal dialog (not `window.confirm`,
 * which the page cannot style or label). Resolves with the reason typed (possibly empty) when
 * confirmed, undefined when dismissed (the keep button, Escape, a click outside).
 */
export function confirmAction(options: {
  title: string;
  message: string;
  confirm: string;
  keep: string;
  reasonLabel: string;
}): Promise<string | undefined> {
  const reason = h("input", { name: "reason", maxlength: 2000, autocomplete: "off" });
  const keep = h("button", { type: "button", value: "keep", autofocus: true }, options.keep);
  const yes = h("button", { type: "submit", value: "confirm", class: "danger" }, options.confirm);
  const dialog = h(
    "dialog",
    { class: "confirm", "aria-labelledby": "confirm-title" },
    h(
      "form",
      { method: "dialog" },
      h("h2", { id: "confirm-title" }, options.title),
      h("p", {}, options.message),
      h("label", {}, options.reasonLabel, reason),
      h("div", { class: "bar end" }, keep, yes),
    ),
  );
  document.body.append(dialog);
  return new Promise((resolve) => {
    keep.addEventListener("click", () => dialog.close(""));
    dialog.addEventListener("click", (e) => {
      if (e.target === dialog) dialog.close(""); // the backdrop
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "confirm" ? reason.value.trim() : undefined);
    });
    dialog.showModal();
  });
}
