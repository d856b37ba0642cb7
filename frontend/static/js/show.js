// The show as both panels draw it: the session's on-air timer and the rundown's current and
// next product. Pure functions of the messages and the clock (tests/show.test.mjs); the timer
// runs from the server's start time on the channel's server-corrected clock, never the
// browser's own.
import { fmtClock, fmtMoney } from "./dom.js";

export const SESSION_LABELS = { live: "直播中", ended: "已下播", not_started: "未开播" };
// A session's kind (PUT …/kind, or 开播 with a kind); untagged sessions are regular.
export const SESSION_KINDS = { regular: "常规", returning_special: "老客专场", big_promotion: "大促", new_launch: "新品首发" };

/** Elapsed time as the host reads it at a glance: 0:07:05, 1:02:03 (hours always shown, so
 * the width never jumps). */
export function fmtElapsed(ms) {
  const secs = Math.max(0, Math.floor(ms / 1000));
  const pad = (n) => String(n).padStart(2, "0");
  return `${Math.floor(secs / 3600)}:${pad(Math.floor(secs / 60) % 60)}:${pad(secs % 60)}`;
}

/**
 * What the timer shows for a session at nowMs: { state, label, clock, since }.
 * `clock` runs while live and is the session's length once ended; null before any session.
 */
export function describeSession(session, nowMs) {
  const state = session?.state in SESSION_LABELS ? session.state : "not_started";
  const started = Date.parse(session?.started_at ?? "");
  const ended = Date.parse(session?.ended_at ?? "");
  const label = SESSION_LABELS[state];
  if (state === "not_started" || !Number.isFinite(started)) return { state, label, clock: null, since: "" };
  if (state === "live") return { state, label, clock: fmtElapsed(nowMs - started), since: `${fmtClock(started)} 开播` };
  const length = Number.isFinite(ended) ? fmtElapsed(ended - started) : null;
  return { state, label, clock: length, since: Number.isFinite(ended) ? `${fmtClock(ended)} 下播` : "" };
}

/** The rundown's product on now and the one after it: { current, next, position, total }. */
export function rundownFocus(rundown) {
  const items = Array.isArray(rundown?.items) ? rundown.items : [];
  const index = Number.isInteger(rundown?.current) ? rundown.current : null;
  const current = index !== null ? (items[index] ?? null) : null;
  const next = items[index === null ? 0 : index + 1] ?? null;
  return { current, next, position: index === null ? 0 : index + 1, total: items.length };
}

/** One line about a product: 补水面膜 ¥59.00. */
export function productLine(item) {
  if (!item) return "";
  return Number.isFinite(item.price_cents) ? `${item.name} ${fmtMoney(item.price_cents)}` : String(item.name ?? item.sku ?? "");
}

/** A timer element kept up to date: call set() on each session message, render() each tick. */
export class OnAirTimer {
  constructor(el, now) {
    this.el = el;
    this.now = now;
    this.session = null;
    this.rendered = "";
  }

  set(session) {
    this.session = session ?? null;
    this.render();
  }

  render() {
    const { state, label, clock, since } = describeSession(this.session, this.now());
    const key = `${state}|${clock}|${since}`;
    if (key === this.rendered) return;
    this.rendered = key;
    this.el.dataset.state = state;
    this.el.querySelector("[data-part=label]").textContent = label;
    this.el.querySelector("[data-part=clock]").textContent = clock ?? "";
    this.el.querySelector("[data-part=since]").textContent = since;
  }
}
