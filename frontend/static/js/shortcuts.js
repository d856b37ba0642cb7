// Keyboard shortcuts for a page, and the page's own list of them (the 快捷键 button opens it):
// one table is both what the keys do and what the page says they do.
import { h, infoDialog } from "./dom.js";

/**
 * @typedef {{keys: string[], label: string, run: (event: KeyboardEvent) => void}} Shortcut
 * `keys` are KeyboardEvent.key values ("p", "1", "?", " "); letters match either case.
 */

function typing(target) {
  return target instanceof HTMLElement && Boolean(target.closest("input, textarea, select, [contenteditable]"));
}

/** Bind the shortcuts to the document; keys are ignored while typing or while a dialog is open. */
export function bindShortcuts(shortcuts) {
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (document.querySelector(".modal-backdrop")) return;
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    const shortcut = shortcuts.find((s) => s.keys.some((k) => (k.length === 1 ? k.toLowerCase() : k) === key));
    if (!shortcut) return;
    event.preventDefault();
    if (!event.repeat) shortcut.run(event);
  });
}

const KEY_NAMES = { " ": "空格", ArrowLeft: "←", ArrowRight: "→", PageUp: "PgUp", PageDown: "PgDn", Escape: "Esc", Enter: "回车" };

/** The table of shortcuts as the page shows it. */
export function shortcutTable(shortcuts) {
  return h(
    "table",
    { class: "data shortcut-table", testid: "shortcut-table" },
    h(
      "tbody",
      {},
      shortcuts.map((s) =>
        h(
          "tr",
          {},
          h("td", {}, s.keys.map((k) => h("kbd", { text: KEY_NAMES[k] ?? k.toUpperCase() }))),
          h("td", { text: s.label }),
        ),
      ),
    ),
  );
}

export function showShortcuts(shortcuts) {
  infoDialog({ title: "快捷键", body: shortcutTable(shortcuts), testid: "shortcut-dialog" });
}
