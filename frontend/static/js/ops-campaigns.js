// Campaigns (red packets and coupons) on the ops console, each labelled with its true state:
// a drop over the approval threshold reads 待审批 with 批准 / 驳回 for a second operator, and
// a drop with claims held by the anti-abuse rules shows how many wait for review.
// Live messages carry progress; pending drops and held counts exist only in the operators'
// API (GET …/campaigns), which is polled while the page is visible.
import { getJSON, newIdempotencyKey, postJSON, roomApi } from "./api.js";
import { CAMPAIGN_KIND_LABELS, STATE_LABELS, confirmDialog, fmtInt, fmtMoney, h, isNum, replace, toast } from "./dom.js";

const POLL_MS = 5000;
const RANK = { pending_approval: 0, running: 1, announced: 2, paused: 3 };
const STATE_BADGES = { pending_approval: "badge-warn", running: "badge-ok", paused: "badge-warn", announced: "badge-ok" };

const keyOf = (source, data) => `${source}:${source === "coupon" ? data?.drop_id : data?.campaign_id}`;
const sourceOf = (data) => (data?.drop_id !== undefined ? "coupon" : "red_packet");

/** Pending first, then running, announced, paused, the rest; first seen first within a state. */
export function campaignOrder(a, b) {
  return (RANK[a.state] ?? 9) - (RANK[b.state] ?? 9) || a.order - b.order;
}

export class CampaignList {
  /** @param {{roomId: string, listEl: HTMLElement, me: string, onReview: (campaign?: object) => void}} options */
  constructor({ roomId, listEl, me, onReview }) {
    Object.assign(this, { listEl, me, onReview });
    this.api = roomApi(roomId);
    this.campaigns = new Map();
    this.seen = 0;
    this.paused = false;
    this.heldTotal = 0;
  }

  clear() {
    this.campaigns.clear();
  }

  upsert(source, data) {
    const id = source === "coupon" ? data?.drop_id : data?.campaign_id;
    if (id === undefined || id === null) return;
    const key = keyOf(source, data);
    const previous = this.campaigns.get(key);
    this.campaigns.set(key, { ...previous, ...data, source, key, order: previous?.order ?? this.seen++ });
  }

  /** A drop as the POST answered it (pending ones never reach the live channel). */
  created(data) {
    this.upsert(sourceOf(data), { created_by: this.me, ...data });
    this.render();
  }

  async refresh() {
    try {
      const { campaigns } = await getJSON(`${this.api}/campaigns`);
      this.heldTotal = 0;
      for (const c of campaigns ?? []) {
        this.upsert(c.source ?? sourceOf(c), c);
        this.heldTotal += isNum(c.held) ? c.held : 0;
      }
      this.render();
    } catch {
      // 404 before the room's first event; offline: the live messages still update the list.
    }
  }

  start() {
    this.refresh();
    setInterval(() => document.hidden || this.refresh(), POLL_MS);
    document.addEventListener("visibilitychange", () => document.hidden || this.refresh());
  }

  render() {
    const list = [...this.campaigns.values()].sort(campaignOrder);
    if (!list.length) {
      replace(this.listEl, h("li", { class: "empty-note", text: "暂无红包或优惠券活动" }));
      return;
    }
    replace(this.listEl, list.map((c) => this.item(c)));
  }

  item(c) {
    const isCoupon = c.source === "coupon";
    const used = isCoupon ? c.claimed : c.spent_cents;
    const total = isCoupon ? c.quantity : c.budget_cents;
    const ratio = isNum(used) && isNum(total) && total > 0 ? Math.min(1, used / total) : 0;
    const meta = isCoupon
      ? `已领 ${fmtInt(c.claimed ?? 0)} / ${fmtInt(c.quantity)} 张`
      : `已发 ${fmtMoney(c.spent_cents ?? 0)} / ${fmtMoney(c.budget_cents)} · ${fmtInt(c.granted ?? 0)} / ${fmtInt(c.quantity)} 个`;
    const live = c.state === "running" || c.state === "announced";
    const bar = h("div", { class: "bar" }, h("span"));
    bar.firstChild.style.width = `${(ratio * 100).toFixed(1)}%`;
    return h(
      "li",
      { class: `campaign-item state-${c.state ?? ""}`, testid: "campaign-item", dataset: { key: c.key, state: c.state ?? "" } },
      h(
        "div",
        { class: "top" },
        h("span", { class: "badge", text: isCoupon ? "优惠券" : CAMPAIGN_KIND_LABELS[c.kind] ?? "红包" }),
        h("span", { class: "title", text: c.title ?? "" }),
        h("span", { class: `badge ${STATE_BADGES[c.state] ?? ""}`, testid: "campaign-state", text: this.stateLabel(c) }),
      ),
      bar,
      h("div", { class: "meta num", text: `${meta}${c.passphrase && live ? ` · 口令 ${c.passphrase}` : ""}` }),
      this.actions(c),
    );
  }

  stateLabel(c) {
    // A running drop under a room-wide pause pays nothing: say so rather than 进行中.
    if (this.paused && (c.state === "running" || c.state === "announced")) return "已暂停（全场）";
    return STATE_LABELS[c.state] ?? c.state ?? "";
  }

  actions(c) {
    const parts = [];
    if (c.state === "pending_approval") {
      const amount = c.source === "coupon" ? "" : `预算 ${fmtMoney(c.budget_cents)}，`;
      parts.push(h("span", { class: "muted", text: `${amount}超过审批额度` }));
      if (c.created_by && c.created_by === this.me) {
        parts.push(h("span", { class: "badge badge-warn", text: "需另一位运营批准" }));
      } else {
        parts.push(h("button", { type: "button", class: "btn btn-small", testid: "btn-reject-campaign", text: "驳回", onclick: (e) => this.decide(c, "reject", e.currentTarget) }));
        parts.push(h("button", { type: "button", class: "btn btn-small btn-primary", testid: "btn-approve-campaign", text: "批准…", onclick: (e) => this.decide(c, "approve", e.currentTarget) }));
      }
    }
    if (isNum(c.held) && c.held > 0) {
      parts.push(h("button", { type: "button", class: "btn btn-small btn-warn", testid: "btn-review-held", text: `${fmtInt(c.held)} 笔领取待审核`, onclick: () => this.onReview(c) }));
    }
    return parts.length ? h("div", { class: "campaign-actions" }, parts) : null;
  }

  async decide(c, decision, button) {
    const id = c.source === "coupon" ? c.drop_id : c.campaign_id;
    if (decision === "approve") {
      const cost = c.source === "coupon" ? `${fmtInt(c.quantity)} 张` : `预算 ${fmtMoney(c.budget_cents)}`;
      const body = h("div", { class: "confirm-summary", testid: "confirm-summary" }, h("p", { text: `批准「${c.title}」（${cost}，由 ${c.created_by ?? "—"} 创建）。批准后倒计时开始。` }));
      if (this.paused) body.append(h("p", { class: "warn-text", testid: "confirm-paused-warning", text: "注意：本直播间发放已暂停，恢复前不会发放。" }));
      if (!(await confirmDialog({ title: "批准发放", body, okText: "确认批准", danger: true }))) return;
    }
    button.disabled = true;
    try {
      const data = await postJSON(`${this.api}/campaigns/${encodeURIComponent(id)}/${decision}`, {}, { idempotencyKey: newIdempotencyKey(), attempts: 1 });
      this.upsert(c.source, data);
      toast(decision === "approve" ? `「${c.title}」已批准` : `「${c.title}」已驳回`, "ok");
    } catch (err) {
      toast(err.message, "error", 8000);
    } finally {
      button.disabled = false;
      this.render();
    }
  }

  setPaused(paused) {
    this.paused = paused;
    this.render();
  }
}
