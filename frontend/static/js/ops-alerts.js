// Ops alerts, what must be acted on first: critical ones stay in a banner above everything
// until someone presses 知道了 (they also chime and notify, see alarm.js); the list below is
// ordered by severity, then time; the steady trickle of "a customer came back" notices is one
// folded group, and resolved alerts another, so a real problem is never scrolled away.
import { SEVERITY_LABELS, fmtTime, h, replace, stored } from "./dom.js";

const KEEP = 150;
const ACK_KEEP = 300;
const NOTICES_SHOWN = 30;
const FRESH_MS = 60_000;
const RANK = { critical: 0, warning: 1, info: 2 };
const PAUSE = "pause_promotions";

const isNotice = (a) => a.kind === "customer_notice";
const isOpen = (a) => a.state !== "resolved";
const badgeClass = (severity) => (severity === "critical" ? "badge badge-danger" : severity === "warning" ? "badge badge-warn" : "badge");

/** Severity first, then newest first (pure: unit-tested in frontend/tests). */
export function byUrgency(a, b) {
  return (RANK[a.severity] ?? 2) - (RANK[b.severity] ?? 2) || (b.updatedMs ?? 0) - (a.updatedMs ?? 0);
}

/** The list's sections: open alerts, grouped notices, resolved ones (pure). */
export function sections(alerts) {
  const open = alerts.filter((a) => isOpen(a) && !isNotice(a)).sort(byUrgency);
  const notices = alerts.filter(isNotice).sort(byUrgency);
  const resolved = alerts.filter((a) => !isOpen(a) && !isNotice(a)).sort(byUrgency);
  return { open, notices, resolved };
}

export class AlertBoard {
  /**
   * @param {{roomId: string, listEl: HTMLElement, countEl: HTMLElement, bannerEl: HTMLElement,
   *          alarm: import("./alarm.js").Alarm, now: () => number, onPause: (button: HTMLElement) => void}} options
   */
  constructor({ roomId, listEl, countEl, bannerEl, alarm, now, onPause }) {
    Object.assign(this, { listEl, countEl, bannerEl, alarm, now, onPause });
    this.alerts = new Map();
    this.ackKey = `livedesk:ops:ack:${roomId}`;
    this.acked = new Set(stored.get(this.ackKey, []));
    this.paused = false;
    this.dirty = true;
    this.openGroups = new Set();
  }

  clear() {
    for (const [id, alert] of this.alerts) if (!alert.local) this.alerts.delete(id);
    this.dirty = true;
  }

  /** An alert message from the room (live: as it happened, not replayed in a snapshot). */
  upsert(alert, atMs, live) {
    if (!alert || alert.id === undefined) return;
    const id = String(alert.id);
    const previous = this.alerts.get(id);
    this.alerts.delete(id); // re-insert: the Map keeps the newest last, for trimming
    const item = { ...previous, ...alert, id, atMs: previous?.atMs ?? atMs, updatedMs: atMs };
    this.alerts.set(id, item);
    this.trim();
    const fresh = this.now() - atMs < FRESH_MS;
    if (live && fresh && !previous && item.severity === "critical" && isOpen(item)) this.ringFor(item);
    this.dirty = true;
  }

  /** A critical condition the console sees for itself (delivery over budget, dead grants).
   * Each new occurrence gets an id of its own, so acknowledging the last one cannot hide it. */
  raiseLocal(key, title, detail) {
    const existing = this.localOpen(key);
    if (existing) {
      if (existing.detail !== detail) {
        existing.detail = detail;
        this.dirty = true;
      }
      return;
    }
    const atMs = this.now();
    const item = { id: `${key}@${atMs}`, key, kind: key, local: true, severity: "critical", title, detail, state: "open", atMs, updatedMs: atMs };
    this.alerts.set(item.id, item);
    this.trim();
    this.ringFor(item);
    this.dirty = true;
  }

  resolveLocal(key) {
    const alert = this.localOpen(key);
    if (!alert) return;
    alert.state = "resolved";
    alert.updatedMs = this.now();
    this.dirty = true;
  }

  localOpen(key) {
    return [...this.alerts.values()].find((a) => a.local && a.key === key && isOpen(a));
  }

  ringFor(alert) {
    if (this.acked.has(alert.id)) return;
    this.alarm.ring({ id: alert.id, title: `严重告警：${alert.title ?? ""}`, body: alert.detail ?? "" });
  }

  trim() {
    while (this.alerts.size > KEEP) {
      // Drop the oldest notice or resolved alert; open problems are never trimmed away.
      const victim = [...this.alerts.values()].find((a) => isNotice(a) || !isOpen(a));
      this.alerts.delete(victim ? victim.id : this.alerts.keys().next().value);
    }
  }

  acknowledge(id) {
    this.acked.add(id);
    stored.set(this.ackKey, [...this.acked].slice(-ACK_KEEP));
    this.dirty = true;
    this.render();
  }

  acknowledgeAll() {
    for (const alert of this.unacknowledged()) this.acked.add(alert.id);
    stored.set(this.ackKey, [...this.acked].slice(-ACK_KEEP));
    this.dirty = true;
    this.render();
  }

  setPaused(paused) {
    if (this.paused !== paused) this.dirty = true;
    this.paused = paused;
  }

  unacknowledged() {
    return [...this.alerts.values()].filter((a) => a.severity === "critical" && !this.acked.has(a.id)).sort(byUrgency);
  }

  /** The room's warnings and criticals with the moment they opened, for the sentiment chart
   * (not notices about one customer, such as 勿点名: they would turn it into a barcode). */
  markers() {
    const personal = new Set(["customer_notice", "do_not_greet"]);
    return [...this.alerts.values()].filter((a) => a.atMs && a.severity !== "info" && !personal.has(a.kind)).slice(-30);
  }

  render() {
    if (!this.dirty) return;
    this.dirty = false;
    const { open, notices, resolved } = sections([...this.alerts.values()]);
    this.countEl.textContent = String(open.length);
    this.countEl.className = `badge ${open.some((a) => a.severity === "critical") ? "badge-danger" : ""}`;
    this.renderBanner();
    const parts = open.map((a) => this.item(a));
    if (notices.length) parts.push(this.group("notices", `老客到场提示 ${notices.length} 条`, notices.slice(0, NOTICES_SHOWN), "notice-group"));
    if (resolved.length) parts.push(this.group("resolved", `已恢复 ${resolved.length} 条`, resolved, "resolved-group"));
    if (!parts.length) parts.push(h("li", { class: "empty-note", text: "暂无告警" }));
    replace(this.listEl, parts);
  }

  renderBanner() {
    const items = this.unacknowledged();
    this.bannerEl.classList.toggle("hidden", !items.length);
    replace(
      this.bannerEl,
      items.map((a) =>
        h(
          "div",
          { class: `critical-item state-${a.state ?? "open"}`, testid: "critical-item", dataset: { alertId: a.id } },
          h("span", { class: "critical-mark", text: isOpen(a) ? "严重" : "已恢复" }),
          h("span", { class: "critical-title", text: a.title ?? "" }),
          h("span", { class: "critical-detail", text: a.detail ?? "" }),
          h("time", { text: fmtTime(a.atMs) }),
          this.pauseButton(a),
          h("button", { type: "button", class: "btn", testid: "btn-ack", text: "知道了", onclick: () => this.acknowledge(a.id) }),
        ),
      ),
    );
  }

  pauseButton(alert) {
    if (alert.suggested_action !== PAUSE || !isOpen(alert)) return null;
    if (this.paused) return h("span", { class: "badge badge-warn", text: "发放已暂停" });
    return h("button", {
      type: "button",
      class: "btn btn-danger",
      testid: "btn-alert-pause",
      text: "一键暂停发放",
      title: "立即暂停本直播间所有红包和优惠券（自动和手动）",
      onclick: (event) => this.onPause(event.currentTarget),
    });
  }

  item(a) {
    const acked = a.severity === "critical" && this.acked.has(a.id);
    return h(
      "li",
      { class: `alert-item sev-${a.severity ?? "info"} state-${a.state ?? "open"}`, testid: "alert-item", dataset: { alertId: a.id, severity: a.severity ?? "info" } },
      h(
        "div",
        { class: "top" },
        h("span", { class: badgeClass(a.severity), text: SEVERITY_LABELS[a.severity] ?? "提示" }),
        h("span", { class: "title", text: a.title ?? a.kind ?? "" }),
        h("time", { text: fmtTime(a.updatedMs) }),
      ),
      a.detail ? h("div", { class: "detail", text: a.detail }) : null,
      isOpen(a) ? this.pauseButton(a) : h("div", { class: "detail", text: "已恢复" }),
      acked ? h("div", { class: "detail muted", text: "已确认" }) : null,
    );
  }

  /** A folded group: <details> keeps its open/closed state across re-renders. */
  group(name, summary, alerts, testid) {
    const details = h(
      "details",
      { class: "alert-group", testid, open: this.openGroups.has(name) },
      h("summary", { text: summary }),
      h("ol", { class: "alert-sublist" }, alerts.map((a) => this.item(a))),
    );
    details.addEventListener("toggle", () => (details.open ? this.openGroups.add(name) : this.openGroups.delete(name)));
    return h("li", { class: "alert-group-row" }, details);
  }
}
