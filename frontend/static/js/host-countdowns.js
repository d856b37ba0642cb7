// The teleprompter's red packets and coupons: what the host must say now gets a card (a rain
// about to start, a coupon with minutes left, its passphrase); campaigns that run all day are
// one quiet line, so they neither crowd the screen nor change places between updates.
import { describe, phaseOf } from "./countdown.js";
import { CAMPAIGN_KIND_LABELS, fmtInt, fmtMoneyBrief, h, isNum, replace } from "./dom.js";

const CARDS_SHOWN = 2;
const ENDED_VISIBLE_MS = 8000;
const FINISHED = new Set(["ended", "expired", "resolved", "dismissed", "rejected"]);
const PHASE_ORDER = { announced: 0, running: 1, paused: 2, ended: 3 };

function couponValue(c) {
  const threshold = isNum(c.threshold_cents) && c.threshold_cents > 0 ? `满${fmtMoneyBrief(c.threshold_cents)}` : "";
  if (isNum(c.value_cents)) return threshold ? `${threshold}减${fmtMoneyBrief(c.value_cents)}` : `立减${fmtMoneyBrief(c.value_cents)}`;
  if (isNum(c.discount_pct)) return `${threshold}优惠 ${c.discount_pct}%`;
  return "";
}

const kindLabel = (entry) => (entry.source === "coupon" ? "优惠券" : CAMPAIGN_KIND_LABELS[entry.kind] ?? "红包");

function cardNode(entry, nowMs, minor, roomPaused) {
  const view = describe(entry, nowMs);
  const { phase } = view;
  const isCoupon = entry.source === "coupon";
  const label = kindLabel(entry);
  const name = entry.title && entry.title !== label ? `${label}「${entry.title}」` : label;
  const head = h("div", { class: "countdown-head" }, name, view.status ? h("span", { class: "countdown-status", text: ` ${view.status}` }) : null);
  const clock = view.clock
    ? h("div", { class: "countdown-clock" }, view.clock.before, h("span", { class: "countdown-secs num", testid: "countdown-secs", text: view.clock.value }), view.clock.after)
    : null;
  // A small card keeps its clock on the name's line; the big one gives the number a line.
  if (clock && minor) head.append(view.status ? " · " : " ", ...clock.childNodes);
  const meta = [];
  if (isCoupon) {
    const value = couponValue(entry);
    if (value) meta.push(value);
    if (isNum(entry.quantity)) meta.push(`已领 ${fmtInt(entry.claimed ?? 0)} / ${fmtInt(entry.quantity)}`);
  } else if (isNum(entry.quantity) && phase !== "announced") {
    meta.push(`已发 ${fmtInt(entry.granted ?? 0)} / ${fmtInt(entry.quantity)}`);
  }
  // A passphrase is read out only while it works: not once paused or ended, and not while the
  // room's drops are paused (a rain still counting down stays announced until it is due).
  const saying = entry.passphrase && !roomPaused && (phase === "announced" || phase === "running");
  return h(
    "div",
    {
      class: `countdown kind-${isCoupon ? "coupon" : "red-packet"} state-${phase}${minor ? " is-minor" : ""}`,
      testid: minor ? "countdown-minor" : "countdown",
      dataset: { key: entry.key, phase },
    },
    head,
    clock && !minor ? clock : null,
    saying ? h("div", { class: "countdown-pass", testid: "countdown-passphrase" }, h("small", { text: "口令" }), entry.passphrase) : null,
    meta.length ? h("div", { class: "countdown-meta", text: meta.join(" · ") }) : null,
  );
}

/** Split entries into cards (short windows, soonest first) and calm all-day ones (pure). */
export function arrange(entries, nowMs) {
  const cards = [];
  const calm = [];
  for (const entry of entries) {
    const view = describe(entry, nowMs);
    if (view.calm && view.phase !== "ended") calm.push(entry);
    else cards.push(entry);
  }
  const when = (e) => Date.parse((phaseOf(e, nowMs) === "announced" ? e.starts_at : e.ends_at) ?? "") || Infinity;
  cards.sort((a, b) => PHASE_ORDER[phaseOf(a, nowMs)] - PHASE_ORDER[phaseOf(b, nowMs)] || when(a) - when(b) || String(a.key).localeCompare(String(b.key)));
  calm.sort((a, b) => String(a.key).localeCompare(String(b.key)));
  return { cards, calm };
}

export class Countdowns {
  constructor(listEl, now) {
    this.listEl = listEl;
    this.now = now;
    this.entries = new Map();
    this.roomPaused = false;
  }

  clear() {
    this.entries.clear();
  }

  upsert(source, data) {
    const id = source === "coupon" ? data.drop_id : data.campaign_id;
    if (id === undefined || id === null) return;
    const key = `${source}:${id}`;
    const entry = { ...this.entries.get(key), ...data, source, key };
    if (FINISHED.has(entry.state)) entry.endedAt = entry.endedAt ?? Date.now();
    else delete entry.endedAt;
    this.entries.set(key, entry);
  }

  render() {
    const wall = Date.now();
    for (const [key, entry] of this.entries) {
      if (entry.endedAt && wall - entry.endedAt > ENDED_VISIBLE_MS) this.entries.delete(key);
      if (entry.state === "pending_approval") this.entries.delete(key);
    }
    const nowMs = this.now();
    const { cards, calm } = arrange([...this.entries.values()], nowMs);
    const shown = cards.slice(0, CARDS_SHOWN).map((entry, i) => cardNode(entry, nowMs, i > 0, this.roomPaused));
    const quiet = [...calm, ...cards.slice(CARDS_SHOWN)];
    if (quiet.length) {
      const names = quiet.map((e) => e.title || kindLabel(e));
      shown.push(h("div", { class: "countdown-calm", testid: "countdown-calm", text: `另有 ${quiet.length} 个活动进行中：${names.slice(0, 3).join("、")}${quiet.length > 3 ? " 等" : ""}` }));
    }
    replace(this.listEl, shown);
  }
}
