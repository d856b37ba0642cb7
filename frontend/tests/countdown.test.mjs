// What the teleprompter says about red packets and coupons (static/js/countdown.js).
import assert from "node:assert/strict";
import { test } from "node:test";

const { SHORT_WINDOW_S, describe, fmtWhen } = await import("../static/js/countdown.js");

// 2026-12-03 01:25:00 in Beijing (17:25 UTC the day before): whatever zone this machine is in.
const NOW = Date.parse("2026-12-02T17:25:00Z");
const at = (secondsFromNow) => new Date(NOW + secondsFromNow * 1000).toISOString();

test("a 24-hour referral campaign shows when it ends, not a ticking hours countdown", () => {
  const view = describe({ source: "red_packet", kind: "referral", state: "running", starts_at: at(-120), ends_at: at(24 * 3600 - 145) }, NOW);
  assert.equal(view.clock, null);
  assert.equal(view.calm, true);
  assert.equal(view.status, "进行中 · 明天 01:22 结束");
});

test("a red-packet rain counts down its seconds, announced and running", () => {
  const rain = { source: "red_packet", kind: "rain", starts_at: at(10), ends_at: at(70) };
  assert.deepEqual(describe({ ...rain, state: "announced" }, NOW), {
    phase: "announced",
    status: "",
    clock: { before: "", value: "10", after: "秒后开始" },
    calm: false,
  });
  const running = describe({ ...rain, state: "running" }, NOW + 37_000);
  assert.equal(running.phase, "running");
  assert.equal(running.status, "进行中");
  assert.deepEqual(running.clock, { before: "还剩", value: "33", after: "秒" });
});

test("a coupon within the short window ticks in minutes and seconds", () => {
  const view = describe({ source: "coupon", state: "running", starts_at: at(-93), ends_at: at(507) }, NOW);
  assert.deepEqual(view.clock, { before: "还剩", value: "8:27", after: "" });
  assert.equal(view.calm, false);
  assert.deepEqual(describe({ source: "coupon", state: "announced", starts_at: at(30) }, NOW).clock, {
    before: "",
    value: "30",
    after: "秒后开抢",
  });
});

test("the window's edge: ten minutes left ticks, a second more does not", () => {
  const entry = (secs) => ({ source: "coupon", state: "running", ends_at: at(secs) });
  assert.equal(describe(entry(SHORT_WINDOW_S), NOW).clock.value, "10:00");
  assert.equal(describe(entry(SHORT_WINDOW_S + 1), NOW).clock, null);
  assert.equal(describe(entry(SHORT_WINDOW_S + 1), NOW).status, "进行中 · 01:35 结束");
});

test("a campaign that starts later says when; one with no end is just 进行中", () => {
  const later = describe({ source: "red_packet", kind: "tiered", state: "announced", starts_at: at(2 * 3600) }, NOW);
  assert.equal(later.status, "03:25 开始");
  assert.equal(later.clock, null);
  assert.equal(describe({ source: "red_packet", kind: "points", state: "running" }, NOW).status, "进行中");
});

test("paused and ended show their state only", () => {
  assert.deepEqual(describe({ state: "paused", ends_at: at(30) }, NOW), { phase: "paused", status: "已暂停", clock: null, calm: false });
  assert.equal(describe({ state: "expired" }, NOW).status, "已结束");
});

test("times are read in Beijing: today, tomorrow, later", () => {
  assert.equal(fmtWhen(NOW + 3600_000, NOW), "02:25");
  assert.equal(fmtWhen(NOW + 24 * 3600_000, NOW), "明天 01:25");
  assert.equal(fmtWhen(NOW + 3 * 24 * 3600_000, NOW), "12月6日 01:25");
});
