// The show's timer and rundown focus (static/js/show.js).
import assert from "node:assert/strict";
import { test } from "node:test";

const { describeSession, fmtElapsed, rundownFocus, productLine } = await import("../static/js/show.js");

// 2026-12-04 20:00:00 in Beijing (12:00 UTC).
const START = Date.parse("2026-12-04T12:00:00Z");

test("the timer runs from the server's start time while live", () => {
  const session = { state: "live", started_at: new Date(START).toISOString(), ended_at: null };
  assert.deepEqual(describeSession(session, START + 3_723_400), {
    state: "live",
    label: "直播中",
    clock: "1:02:03",
    since: "20:00 开播",
  });
  // A browser clock behind the server's start never shows a negative time.
  assert.equal(describeSession(session, START - 5000).clock, "0:00:00");
});

test("an ended session shows its length, and no session shows 未开播", () => {
  const ended = { state: "ended", started_at: new Date(START).toISOString(), ended_at: new Date(START + 425_000).toISOString() };
  assert.deepEqual(describeSession(ended, START + 10_000_000), { state: "ended", label: "已下播", clock: "0:07:05", since: "20:07 下播" });
  assert.deepEqual(describeSession({ state: "not_started" }, START), { state: "not_started", label: "未开播", clock: null, since: "" });
  assert.equal(describeSession(null, START).label, "未开播");
  assert.equal(fmtElapsed(36_000_000), "10:00:00");
});

test("the rundown's current and next product", () => {
  const items = [
    { sku: "A", name: "抗老精华", price_cents: 29900 },
    { sku: "B", name: "补水面膜", price_cents: 5900 },
  ];
  assert.deepEqual(rundownFocus({ items, current: null }), { current: null, next: items[0], position: 0, total: 2 });
  assert.deepEqual(rundownFocus({ items, current: 0 }), { current: items[0], next: items[1], position: 1, total: 2 });
  assert.deepEqual(rundownFocus({ items, current: 1 }), { current: items[1], next: null, position: 2, total: 2 });
  assert.deepEqual(rundownFocus(null), { current: null, next: null, position: 0, total: 0 });
  assert.equal(productLine(items[1]), "补水面膜 ¥59.00");
});
