// The ops comment stream. Built for 1,000 comments/s: incoming comments are only queued; a
// requestAnimationFrame pass at most every FLUSH_INTERVAL_MS renders the newest ones (at most
// ROWS_PER_FLUSH; nobody reads faster than that, the filters find the rest), and the list never
// holds more than maxRows rows, so the page stays smooth however busy the room is.
import { fmtTime, h, isNum } from "./dom.js";

const RECENT_KEEP = 500;
const FLUSH_INTERVAL_MS = 100;
const ROWS_PER_FLUSH = 50;

const FILTERS = {
  all: () => true,
  returning: (c) => Boolean(c.returning || c.vip),
  negative: (c) => isNum(c.sentiment) && c.sentiment <= 0.35,
  flagged: (c) => Array.isArray(c.flagged) && c.flagged.length > 0,
  intent: (c) => Array.isArray(c.intents) && c.intents.length > 0,
};

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Content as text nodes, with flagged words wrapped in <mark> (still text, never HTML). */
function contentNodes(content, flagged) {
  const text = String(content ?? "");
  const words = (Array.isArray(flagged) ? flagged : []).filter((w) => typeof w === "string" && w);
  if (!words.length) return [text];
  const pattern = new RegExp(`(${words.map(escapeRegExp).join("|")})`, "g");
  return text.split(pattern).map((part, i) => (i % 2 === 1 ? h("mark", { text: part }) : part));
}

export class CommentStream {
  /**
   * @param {HTMLOListElement} listEl
   * @param {{maxRows?: number, filterEl?: HTMLSelectElement, pausedEl?: HTMLElement,
   *          onName?: (customerId: string, nickname: string) => void, stats?: object}} options
   */
  constructor(listEl, options = {}) {
    this.listEl = listEl;
    this.maxRows = options.maxRows ?? 200;
    this.filterEl = options.filterEl ?? null;
    this.pausedEl = options.pausedEl ?? null;
    this.onName = options.onName ?? null;
    this.stats = options.stats ?? { received: 0, rendered: 0, skipped: 0, frames: 0 };
    this.skippedEl = options.skippedEl ?? null;
    this.lastFlushMs = 0;
    this.timer = 0;
    this.pending = [];
    this.pendingCount = 0;
    this.recent = [];
    this.frame = 0;
    this.paused = false;

    // Reading a row while the list moves is impossible: hovering pauses it.
    listEl.addEventListener("mouseenter", () => this.setPaused(true));
    listEl.addEventListener("mouseleave", () => this.setPaused(false));
    listEl.addEventListener("click", (event) => {
      const button = event.target instanceof Element ? event.target.closest("button.c-name") : null;
      if (button && this.onName) this.onName(button.dataset.customerId, button.textContent);
    });
    this.filterEl?.addEventListener("change", () => this.refilter());
  }

  get filter() {
    return FILTERS[this.filterEl?.value ?? "all"] ?? FILTERS.all;
  }

  push(comments) {
    if (!Array.isArray(comments) || !comments.length) return;
    this.stats.received += comments.length;
    this.recent.push(...comments);
    if (this.recent.length > RECENT_KEEP) this.recent.splice(0, this.recent.length - RECENT_KEEP);
    const matching = comments.filter(this.filter);
    this.pending.push(...matching);
    this.pendingCount += matching.length;
    // Only the newest maxRows can ever be on screen; older queued ones are dropped unrendered.
    if (this.pending.length > this.maxRows) this.pending.splice(0, this.pending.length - this.maxRows);
    this.schedule();
  }

  /** Replace everything (snapshot). */
  reset(comments) {
    this.recent = Array.isArray(comments) ? comments.slice(-RECENT_KEEP) : [];
    this.pending = [];
    this.pendingCount = 0;
    this.listEl.replaceChildren();
    this.pending = this.recent.filter(this.filter).slice(-this.maxRows);
    this.schedule();
  }

  refilter() {
    this.listEl.replaceChildren();
    this.pending = this.recent.filter(this.filter);
    this.pendingCount = 0;
    this.flush(true);
  }

  setPaused(paused) {
    this.paused = paused;
    if (!paused) {
      this.schedule();
    }
    this.showPaused();
  }

  showPaused() {
    if (!this.pausedEl) return;
    this.pausedEl.classList.toggle("hidden", !this.paused);
    this.pausedEl.textContent = this.pendingCount ? `已暂停 · 新增 ${this.pendingCount} 条` : "已暂停";
  }

  schedule() {
    if (this.paused) {
      this.showPaused();
      return;
    }
    if (this.frame || this.timer) return;
    const waitMs = Math.max(0, this.lastFlushMs + FLUSH_INTERVAL_MS - performance.now());
    const run = () => {
      this.timer = 0;
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.flush(false);
      });
    };
    if (waitMs > 0) this.timer = setTimeout(run, waitMs);
    else run();
  }

  flush(force) {
    if (this.paused && !force) return;
    this.lastFlushMs = performance.now();
    const batch = this.pending;
    this.pending = [];
    this.pendingCount = 0;
    this.stats.frames += 1;
    const matching = batch;
    const limit = force ? this.maxRows : ROWS_PER_FLUSH;
    const shown = matching.slice(-limit);
    const skipped = matching.length - shown.length;
    if (skipped > 0) {
      this.stats.skipped += skipped;
      this.showSkipped();
    }
    if (shown.length) {
      const fragment = document.createDocumentFragment();
      for (let i = shown.length - 1; i >= 0; i -= 1) fragment.append(this.row(shown[i]));
      this.listEl.prepend(fragment);
      this.stats.rendered += shown.length;
    }
    while (this.listEl.childElementCount > this.maxRows) this.listEl.lastElementChild.remove();
    this.showPaused();
  }

  showSkipped() {
    if (!this.skippedEl) return;
    this.skippedEl.classList.remove("hidden");
    this.skippedEl.textContent = `刷屏中，已略过 ${this.stats.skipped} 条`;
    this.skippedEl.title = "弹幕太快时只显示最新的部分；用右侧筛选查看老客、负面或敏感词弹幕";
  }

  row(c) {
    const classes = ["comment-row"];
    if (c.returning) classes.push("is-returning");
    if (c.vip) classes.push("is-vip");
    if (Array.isArray(c.flagged) && c.flagged.length) classes.push("is-flagged");
    const sentiment = isNum(c.sentiment) ? c.sentiment : null;
    const tone = sentiment === null ? "" : sentiment >= 0.65 ? " pos" : sentiment <= 0.35 ? " neg" : "";
    const nickname = c.user?.nickname ?? c.nickname ?? "匿名";
    const labels = Array.isArray(c.intent_labels) ? c.intent_labels : [];
    return h(
      "li",
      { class: classes.join(" "), testid: "comment-row", dataset: { commentId: String(c.id ?? "") } },
      h("span", { class: "c-time", text: fmtTime(c.ts ?? Date.now()) }),
      h("span", { class: `c-senti${tone}`, title: sentiment === null ? "情绪未知" : `情绪 ${sentiment.toFixed(2)}` }),
      c.vip ? h("span", { class: "badge badge-vip", text: "VIP" }) : null,
      c.tier_label ? h("span", { class: "badge badge-tier", text: c.tier_label }) : null,
      c.customer_id !== undefined && c.customer_id !== null
        ? h("button", { type: "button", class: "btn-link c-name", dataset: { customerId: String(c.customer_id) }, text: nickname })
        : h("span", { class: "c-name", text: nickname }),
      h(
        "span",
        { class: "c-body", testid: "comment-text" },
        contentNodes(c.content, c.flagged),
        labels.slice(0, 2).map((label) => h("span", { class: "c-tag", text: label })),
      ),
    );
  }
}
