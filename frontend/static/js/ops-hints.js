// The hints on the host's teleprompter, as ops see and steer them (the 提示 tab): pin one so it
// stays, or take it off the screen; the push form beside it adds one.
import { postJSON, roomApi } from "./api.js";
import { fmtTime, h, replace, toast } from "./dom.js";

const FINISHED = new Set(["ended", "expired", "resolved", "dismissed"]);
const PRIORITY_LABELS = { 1: "重要", 2: "一般", 3: "参考" };

export class HintQueue {
  constructor(roomId, listEl, countEl, now) {
    this.api = roomApi(roomId);
    Object.assign(this, { listEl, countEl, now });
    this.hints = new Map();
  }

  clear() {
    this.hints.clear();
  }

  upsert(hint) {
    if (!hint || hint.id === undefined) return;
    if (FINISHED.has(hint.state)) this.hints.delete(hint.id);
    else this.hints.set(hint.id, { ...this.hints.get(hint.id), ...hint });
  }

  remove(id) {
    this.hints.delete(id);
  }

  live() {
    const nowMs = this.now();
    return [...this.hints.values()]
      .filter((hint) => hint.pinned || !(Date.parse(hint.expires_at ?? "") <= nowMs))
      .sort((a, b) => (a.priority ?? 3) - (b.priority ?? 3) || Number(Boolean(b.pinned)) - Number(Boolean(a.pinned)));
  }

  async act(hint, action, button) {
    button.disabled = true;
    try {
      const answer = await postJSON(`${this.api}/hints/${encodeURIComponent(hint.id)}/${action}`, {}, { attempts: 2 });
      if (action === "dismiss") this.remove(hint.id);
      else this.upsert(answer);
      toast(action === "pin" ? "已置顶，主播关闭前一直显示" : "已从提词器撤下", "ok");
    } catch (err) {
      if (err.status === 404) this.remove(hint.id); // already gone (expired, dismissed)
      else toast(err.message, "error");
    } finally {
      button.disabled = false;
      this.render();
    }
  }

  render() {
    const hints = this.live();
    this.countEl.textContent = hints.length ? String(hints.length) : "";
    if (!hints.length) {
      replace(this.listEl, h("li", { class: "empty-note", text: "提词器上暂无提示" }));
      return;
    }
    replace(
      this.listEl,
      hints.map((hint) =>
        h(
          "li",
          { class: `hint-row p${hint.priority ?? 3}`, testid: "hint-row", dataset: { hintId: String(hint.id) } },
          h("span", { class: "badge", text: hint.pinned ? "置顶" : PRIORITY_LABELS[hint.priority] ?? "提示" }),
          h("span", { class: "text", text: hint.text ?? "" }),
          h("time", { text: fmtTime(hint.created_at) }),
          hint.pinned ? null : h("button", { type: "button", class: "btn btn-small", testid: "btn-pin-hint", text: "置顶", onclick: (e) => this.act(hint, "pin", e.currentTarget) }),
          h("button", { type: "button", class: "btn btn-small", testid: "btn-dismiss-hint", text: "撤下", onclick: (e) => this.act(hint, "dismiss", e.currentTarget) }),
        ),
      ),
    );
  }
}
