// What the teleprompter says about a red packet or coupon: pure functions of the entry and the
// clock, so the wording is unit-tested without a page (tests/countdown.test.mjs).
//
// A ticking number makes the host read it out, so only short windows tick (a rain starting in
// 10 s, a coupon with 4:59 left). A campaign that runs all day (referral, tiered) is shown
// calmly, with the time it ends, until its last minutes.
import { TIME_ZONE, daysApart, fmtClock } from "./dom.js";

/** At most this many seconds to go and the teleprompter counts down; more, it shows a time. */
export const SHORT_WINDOW_S = 600;

const FINISHED = new Set(["ended", "expired", "resolved", "dismissed"]);

export function secondsUntil(iso, nowMs) {
  const ms = Date.parse(iso ?? "");
  return Number.isFinite(ms) ? Math.ceil((ms - nowMs) / 1000) : null;
}

/** Seconds left as the host reads them: "45" (with 秒) or "4:59". */
export function fmtSecs(secs) {
  const pad = (n) => String(n).padStart(2, "0");
  if (secs >= 3600) return `${Math.floor(secs / 3600)}:${pad(Math.floor(secs / 60) % 60)}:${pad(secs % 60)}`;
  if (secs >= 100) return `${Math.floor(secs / 60)}:${pad(secs % 60)}`;
  return String(secs);
}

const monthDay = new Intl.DateTimeFormat("zh-CN", { timeZone: TIME_ZONE, month: "numeric", day: "numeric" });

/** A moment as the host says it: 23:30, 明天 01:23, 12月5日 01:23 (Beijing time). */
export function fmtWhen(ms, nowMs) {
  const days = daysApart(nowMs, ms);
  if (days === 0) return fmtClock(ms);
  if (days === 1) return `明天 ${fmtClock(ms)}`;
  const part = (type) => monthDay.formatToParts(ms).find((p) => p.type === type)?.value;
  return `${part("month")}月${part("day")}日 ${fmtClock(ms)}`;
}

export function phaseOf(entry, nowMs) {
  if (entry.endedAt || FINISHED.has(entry.state)) return "ended";
  if (entry.state === "paused") return "paused";
  const startIn = secondsUntil(entry.starts_at, nowMs);
  if (entry.state === "announced" || (startIn !== null && startIn > 0)) return "announced";
  return "running";
}

/**
 * The status words and, for a short window, the clock to show big:
 * { phase, status, clock: { before, value, after } | null, calm }.
 * `calm` marks a long-running entry: no big number, drawn quietly.
 */
export function describe(entry, nowMs) {
  const phase = phaseOf(entry, nowMs);
  const isCoupon = entry.source === "coupon";
  if (phase === "announced") {
    const secs = secondsUntil(entry.starts_at, nowMs);
    const verb = isCoupon ? "开抢" : "开始";
    if (secs === null || secs <= 0) return { phase, status: "即将开始", clock: null, calm: false };
    if (secs > SHORT_WINDOW_S) {
      return { phase, status: `${fmtWhen(Date.parse(entry.starts_at), nowMs)} ${verb}`, clock: null, calm: true };
    }
    const unit = secs >= 100 ? "" : "秒";
    return { phase, status: "", clock: { before: "", value: fmtSecs(secs), after: `${unit}后${verb}` }, calm: false };
  }
  if (phase === "running") {
    const secs = secondsUntil(entry.ends_at, nowMs);
    if (secs === null || secs <= 0) return { phase, status: "进行中", clock: null, calm: true };
    if (secs > SHORT_WINDOW_S) {
      return { phase, status: `进行中 · ${fmtWhen(Date.parse(entry.ends_at), nowMs)} 结束`, clock: null, calm: true };
    }
    return { phase, status: "进行中", clock: { before: "还剩", value: fmtSecs(secs), after: secs >= 100 ? "" : "秒" }, calm: false };
  }
  return { phase, status: phase === "paused" ? "已暂停" : "已结束", clock: null, calm: false };
}
