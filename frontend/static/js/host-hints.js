// The teleprompter's hints: at most three, at most one of them red (two red lines at once
// means neither is urgent), pinned ones first within a priority. The host can take the top
// hint (or any tapped one) off the screen; ops see it go.
import { postJSON, roomApi } from "./api.js";
import { h, replace, toast } from "./dom.js";

const SHOWN = 3;
const FINISHED = new Set(["ended", "expired", "resolved", "dismissed"]);

/** Order hints and keep only one red: later p1 hints read as p2 (pure). */
export function arrangeHints(hints, nowMs) {
  const live = hints.filter((hint) => {
    const expiresMs = Date.parse(hint.expires_at ?? "");
    return hint.pinned || !Number.isFinite(expiresMs) || expiresMs > nowMs;
  });
  live.sort(
    (a, b) =>
      (a.priority ?? 3) - (b.priority ?? 3) ||
      Number(Boolean(b.pinned)) - Number(Boolean(a.pinned)) ||
      (b.receivedAt ?? 0) - (a.receivedAt ?? 0),
  );
  let red = 0;
  return live.map((hint) => {
    const priority = [1, 2, 3].includes(hint.priority) ? hint.priority : 3;
    if (priority === 1 && red++ > 0) return { ...hint, shownPriority: 2 };
    return { ...hint, shownPriority: priority };
  });
}

export class HintBoard {
  constructor({ roomId, listEl, moreEl, now }) {
    Object.assign(this, { listEl, moreEl, now });
    this.boxEl = listEl.closest(".hints");
    this.api = roomApi(roomId);
    this.hints = new Map();
    this.renderedKey = null;
    listEl.addEventListener("click", (event) => {
      const item = event.target instanceof Element ? event.target.closest("li.hint") : null;
      if (item) this.dismiss(item.dataset.hintId);
    });
  }

  clear() {
    this.hints.clear();
  }

  upsert(hint) {
    if (!hint || hint.id === undefined) return;
    if (FINISHED.has(hint.state)) this.hints.delete(hint.id);
    else this.hints.set(hint.id, { ...this.hints.get(hint.id), ...hint, receivedAt: this.hints.get(hint.id)?.receivedAt ?? Date.now() });
  }

  remove(id) {
    this.hints.delete(id);
  }

  /** Take a hint off the teleprompter for everyone (the top one when no id is given). */
  async dismiss(id) {
    const target = id ?? this.shown()[0]?.id;
    if (target === undefined) return;
    this.hints.delete(target);
    this.render();
    try {
      await postJSON(`${this.api}/hints/${encodeURIComponent(target)}/dismiss`, {}, { attempts: 2 });
    } catch (err) {
      if (err.status !== 404) toast(`提示未能关闭：${err.message}`, "error");
    }
  }

  shown() {
    const nowMs = this.now();
    const all = arrangeHints([...this.hints.values()], nowMs);
    for (const id of this.hints.keys()) if (!all.some((hint) => hint.id === id)) this.hints.delete(id);
    return all;
  }

  render() {
    const all = this.shown();
    const shown = all.slice(0, SHOWN);
    const key = shown.map((hint) => `${hint.id}:${hint.shownPriority}:${hint.text}:${hint.pinned}`).join("|");
    if (key !== this.renderedKey) {
      this.renderedKey = key;
      replace(
        this.listEl,
        shown.length
          ? shown.map((hint) =>
              h(
                "li",
                { class: `hint p${hint.shownPriority}`, testid: "hint", title: "轻触关闭这条提示", dataset: { hintId: String(hint.id), priority: String(hint.priority ?? 3) } },
                hint.pinned ? h("span", { class: "pin", text: "置顶" }) : null,
                hint.text ?? "",
              ),
            )
          : h("li", { class: "hint-empty", text: "暂无提示" }),
      );
    }
    this.fit(all.length - shown.length);
  }

  /** Hide the lowest hints that do not fit whole (countdowns above take the room). */
  fit(beyond) {
    const items = [...this.listEl.querySelectorAll("li.hint")];
    for (const item of items) item.classList.remove("hidden");
    let hidden = 0;
    while (hidden < items.length - 1 && this.boxEl.scrollHeight > this.boxEl.clientHeight + 1) {
      hidden += 1;
      items[items.length - hidden].classList.add("hidden");
    }
    const more = hidden + beyond;
    this.moreEl.textContent = more > 0 ? `另有 ${more} 条` : "";
  }
}
