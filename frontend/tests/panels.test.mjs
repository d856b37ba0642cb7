// The ordering and grouping rules of the panels, tested without a page: what ops act on first,
// what the host sees at most, how held claims are grouped.
import assert from "node:assert/strict";
import { test } from "node:test";

const { sections } = await import("../static/js/ops-alerts.js");
const { campaignOrder } = await import("../static/js/ops-campaigns.js");
const { reasonGroup, runAll } = await import("../static/js/ops-review.js");
const { arrangeHints } = await import("../static/js/host-hints.js");
const { arrange } = await import("../static/js/host-countdowns.js");

test("alerts: critical before warning before info, newest first within a severity", () => {
  const alerts = [
    { id: "w-old", severity: "warning", updatedMs: 1 },
    { id: "n1", kind: "customer_notice", severity: "info", updatedMs: 9 },
    { id: "c", severity: "critical", updatedMs: 2 },
    { id: "w-new", severity: "warning", updatedMs: 5 },
    { id: "r", severity: "critical", state: "resolved", updatedMs: 8 },
    { id: "n2", kind: "customer_notice", severity: "info", updatedMs: 10 },
  ];
  const { open, notices, resolved } = sections(alerts);
  assert.deepEqual(open.map((a) => a.id), ["c", "w-new", "w-old"]);
  assert.deepEqual(notices.map((a) => a.id), ["n2", "n1"]);
  assert.deepEqual(resolved.map((a) => a.id), ["r"]);
});

test("campaigns: pending approval first, then running; order of first sight kept within a state", () => {
  const list = [
    { key: "a", state: "running", order: 0 },
    { key: "b", state: "ended", order: 1 },
    { key: "c", state: "pending_approval", order: 2 },
    { key: "d", state: "running", order: 3 },
  ];
  assert.deepEqual(list.sort(campaignOrder).map((c) => c.key), ["c", "a", "d", "b"]);
});

test("held claims group by the reason's kind, not its figures", () => {
  assert.equal(reasonGroup("新账号：活动开始前 0 分钟内才出现"), "新账号");
  assert.equal(reasonGroup("观看时长不足：3 秒"), "观看时长不足");
  assert.equal(reasonGroup(""), "未注明");
});

test("bulk decisions run every item, a few at a time, and count the failures by message", async () => {
  let inFlight = 0;
  let most = 0;
  const result = await runAll(
    [1, 2, 3, 4, 5, 6, 7],
    async (n) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight -= 1;
      if (n % 3 === 0) throw new Error("预算已用完");
    },
    3,
  );
  assert.equal(result.done, 5);
  assert.equal(result.failed, 2);
  assert.equal(result.errors.get("预算已用完"), 2);
  assert.ok(most <= 3);
});

test("the host sees one red hint at most; later urgent ones read as ordinary", () => {
  const hints = [
    { id: "a", priority: 1, receivedAt: 1 },
    { id: "b", priority: 1, receivedAt: 2 },
    { id: "c", priority: 2, receivedAt: 3 },
    { id: "d", priority: 1, receivedAt: 4, expires_at: "2000-01-01T00:00:00Z" },
  ];
  const shown = arrangeHints(hints, Date.now());
  assert.deepEqual(shown.map((h) => [h.id, h.shownPriority]), [["b", 1], ["a", 2], ["c", 2]]);
});

test("all-day campaigns are one quiet line; short ones are cards, soonest first", () => {
  const now = Date.parse("2026-12-03T12:00:00Z");
  const at = (s) => new Date(now + s * 1000).toISOString();
  const entries = [
    { key: "red_packet:ref", source: "red_packet", kind: "referral", state: "running", starts_at: at(-60), ends_at: at(86_000) },
    { key: "coupon:c1", source: "coupon", state: "running", starts_at: at(-60), ends_at: at(240) },
    { key: "red_packet:rain", source: "red_packet", kind: "rain", state: "announced", starts_at: at(10), ends_at: at(70) },
  ];
  const { cards, calm } = arrange(entries, now);
  assert.deepEqual(cards.map((e) => e.key), ["red_packet:rain", "coupon:c1"]);
  assert.deepEqual(calm.map((e) => e.key), ["red_packet:ref"]);
});

test("viewers: an estimated count reads ≈N and says how it was counted", async () => {
  const { viewersFigure, viewersLine } = await import("../static/js/viewers.js");
  assert.deepEqual(viewersFigure(12, 0), { number: "12", estimated: false, title: "按进场/离场事件统计" });
  const douyin = viewersFigure(12, 12);
  assert.equal(douyin.number, "≈12");
  assert.match(douyin.title, /^全部按互动估算：.*5 分钟/);
  assert.match(viewersFigure(12, 3).title, /^其中 3 人按互动估算/);
  assert.equal(viewersLine(12, 12).text, "在线 ≈12 (估算)");
  assert.equal(viewersLine(12, 0).text, "在线 12");
  assert.equal(viewersFigure(undefined, 0).number, "—");
});

test("products: a SKU that sold outside the catalogue still gets its row, after the catalogue", async () => {
  const { rankProducts } = await import("../static/js/ops-products.js");
  const catalogue = [{ sku: "A", name: "精华" }, { sku: "B", name: "面霜" }];
  const figures = { B: { sold: 2 }, "SHOP-9": { sold: 1, sales_cents: 990 } };
  const ranked = rankProducts(catalogue, [["B", 3]], figures);
  assert.deepEqual(ranked.map((p) => [p.sku, p.mentions, Boolean(p.outside)]), [["B", 3, false], ["A", 0, false], ["SHOP-9", 0, true]]);
  assert.equal(ranked[2].name, "SHOP-9");
});
