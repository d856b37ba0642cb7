// 下播后: this session beside the regular ones, retention after it, and the follow-up list
// (GET …/comparison, …/retention, …/followup; POST …/followup/send).
import { getJSON, postJSON, putJSON, roomApi } from "./api.js";
import { Chart, axisStyle, palette } from "./charts.js";
import { SESSION_KINDS } from "./show.js";
import { $, confirmDialog, fmtDateTime, fmtInt, fmtMoney, fmtPct, h, isNum, pageData, replace, toast } from "./dom.js";

const { roomId } = pageData();
const api = roomApi(roomId);
// ?session=ID: an earlier session of the room; without it, the newest.
const chosenSession = new URLSearchParams(location.search).get("session")?.match(/^\d+$/)?.[0] ?? null;
const ofSession = (path, id = chosenSession) => (id ? `${path}${path.includes("?") ? "&" : "?"}session=${id}` : path);
let shownSession = null; // the session the page shows (the comparison's session_id)
const p = palette();
const KINDS = SESSION_KINDS;

// label, how to show a value, whether it is money.
const FIGURES = [
  ["returning_share", "老客占比", fmtPct],
  ["aov_cents", "客单价（整体）", fmtMoney],
  ["aov_returning_cents", "老客客单价", fmtMoney],
  ["aov_new_cents", "新客客单价", fmtMoney],
  ["interaction_rate", "互动率", fmtPct],
  ["comments_per_viewer", "人均评论数", (v) => (isNum(v) ? v.toFixed(2) : "—")],
  ["redemption_rate", "优惠券核销率", fmtPct],
  ["roi", "投放 ROI", (v) => (isNum(v) ? `${v.toFixed(2)}×` : "—")],
];

function liftCell(lift) {
  if (!isNum(lift)) return h("td", { class: "r", text: "—" });
  return h("td", { class: `r ${lift >= 0 ? "up" : "down"}`, text: `${lift >= 0 ? "+" : ""}${fmtPct(lift)}` });
}

function bars(el, categories, series, { percent = false, money = false } = {}) {
  const format = (v) => (percent ? `${Math.round(v * 100)}%` : money ? `¥${Math.round(v / 100)}` : String(v));
  return new Chart(
    el,
    {
      grid: { left: 56, right: 16, top: 30, bottom: 28 },
      tooltip: { trigger: "axis", renderMode: "richText", valueFormatter: (v) => (isNum(v) ? format(v) : "—") },
      xAxis: { type: "category", data: categories, ...axisStyle() },
      yAxis: { type: "value", ...axisStyle(), axisLabel: { color: p.dim, formatter: format } },
      series: series.map(([name, data, color]) => ({ name, type: "bar", data, itemStyle: { color }, barMaxWidth: 28 })),
    },
    { renderer: "svg" },
  );
}

function renderComparison(c) {
  const f = c.figures ?? {};
  replace(
    $('[data-testid="comparison-table"] tbody'),
    FIGURES.map(([key, label, show]) =>
      h(
        "tr",
        { testid: "comparison-row", dataset: { figure: key } },
        h("td", { text: label }),
        h("td", { class: "r", text: show(f[key]?.this) }),
        h("td", { class: "r", text: show(f[key]?.baseline) }),
        liftCell(f[key]?.lift),
        h("td", { class: "formula", text: c.formulas?.[key] ?? "" }),
      ),
    ),
    h(
      "tr",
      { testid: "comparison-row", dataset: { figure: "aov_uplift" } },
      h("td", { text: "客单价提升率（老客）" }),
      liftCell(c.aov_uplift),
      h("td", { class: "r", text: "" }),
      h("td", { class: "r", text: "" }),
      h("td", { class: "formula", text: c.formulas?.aov_uplift ?? "" }),
    ),
  );
  $('[data-testid="baseline-note"]').textContent = c.baseline_sessions
    ? `常规场：此前 ${c.baseline_sessions} 场合计`
    : "还没有此前的常规场可比";
  const rateKeys = ["returning_share", "interaction_rate", "redemption_rate"];
  const moneyKeys = ["aov_cents", "aov_returning_cents", "aov_new_cents"];
  const label = (key) => FIGURES.find(([k]) => k === key)[1];
  return [
    bars($('[data-testid="chart-comparison-rates"]'), rateKeys.map(label), [
      ["本场", rateKeys.map((k) => f[k]?.this ?? null), p.accent],
      ["常规场", rateKeys.map((k) => f[k]?.baseline ?? null), p.faint],
    ], { percent: true }),
    bars($('[data-testid="chart-comparison-aov"]'), moneyKeys.map(label), [
      ["本场", moneyKeys.map((k) => f[k]?.this ?? null), p.returning],
      ["常规场", moneyKeys.map((k) => f[k]?.baseline ?? null), p.faint],
    ], { money: true }),
  ];
}

function tile(label, value, sub, testid) {
  return h("div", { class: "tile", testid }, h("span", { class: "label", text: label }), h("span", { class: "value", text: value }), h("span", { class: "sub", text: sub ?? "" }));
}

function windowNote(done) {
  return done ? "已满窗口" : "进行中（随订单回流更新）";
}

function renderRetention(r) {
  const o = r.overall ?? {};
  replace(
    $('[data-testid="retention-summary"]'),
    tile("本场老客", fmtInt(o.returning), `其中开播前 30 天活跃 ${fmtInt(o.active_before)} 位`, "retention-returning"),
    tile("7 日复购率", fmtPct(o.repurchase_rate_7d), windowNote(o.window_7d_complete), "retention-7d"),
    tile("30 日复购率", fmtPct(o.repurchase_rate_30d), windowNote(o.window_30d_complete), "retention-30d"),
    tile("留存率", fmtPct(o.retention_rate), windowNote(o.window_30d_complete), "retention-rate"),
  );
  replace($('[data-testid="retention-formulas"]'), Object.values(r.formulas ?? {}).map((text) => h("li", { text })));
  const chart = (testid, groups) =>
    bars($(`[data-testid="${testid}"]`), groups.map((g) => g.label), [
      ["7日复购率", groups.map((g) => g.repurchase_rate_7d), p.accent],
      ["30日复购率", groups.map((g) => g.repurchase_rate_30d), p.returning],
      ["留存率", groups.map((g) => g.retention_rate), p.gold],
    ], { percent: true });
  return [chart("chart-retention-tier", r.by_tier ?? []), chart("chart-retention-segment", r.by_segment ?? [])];
}

function renderFollowUp(list) {
  const people = list.customers ?? [];
  const routes = { after_sales: 0, marketing: 0, none: 0 };
  for (const c of people) routes[c.route ?? "none"] += 1;
  $('[data-testid="followup-counts"]').textContent = `售后 ${routes.after_sales} · 营销 ${routes.marketing} · 不联系 ${routes.none}`;
  const body = $('[data-testid="followup-table"] tbody');
  if (!people.length) {
    replace(body, h("tr", {}, h("td", { colspan: "7", class: "muted", text: "本场还没有可跟进的客户" })));
    return;
  }
  replace(
    body,
    people.map((c) =>
      h(
        "tr",
        { testid: "followup-row" },
        h("td", { text: c.nickname ?? String(c.customer_id) }),
        h("td", { text: c.tier_label ?? "" }),
        h("td", { class: c.complaint ? "route-after_sales" : "", text: (c.asked ?? []).join("、") || (c.complaint ? "投诉" : "—") }),
        h("td", { class: "r", text: c.spent_cents ? fmtMoney(c.spent_cents) : "—" }),
        h("td", { text: (c.unused ?? []).map((g) => g.title).join("、") || "—" }),
        h("td", { class: c.route ? `route-${c.route}` : "muted", text: c.action?.label ?? "不跟进" }),
        h("td", { class: "message", text: c.message || c.note || "" }),
      ),
    ),
  );
}

async function sendFollowUp() {
  const ok = await confirmDialog({
    title: "推送跟进名单",
    body: h("p", { text: "把本场的跟进名单签名推送给品牌的 CRM / 企业微信工具。已推送过的客户不会重复推送；拒绝营销的客户不在营销名单里。" }),
    okText: "确认推送",
  });
  if (!ok) return;
  try {
    const answer = await postJSON(ofSession(`${api}/followup/send`, shownSession), {});
    toast(`已推送 ${answer.sent} 位（${answer.batches} 批），此前已推送 ${answer.already_sent} 位`, "ok");
  } catch (err) {
    toast(err.message, "error", 8000);
  }
}

function setupKind(current) {
  const select = $('[data-testid="kind-select"]');
  replace(select, Object.entries(KINDS).map(([id, label]) => h("option", { value: id, text: label, selected: id === current ? true : null })));
  $('[data-testid="btn-save-kind"]').addEventListener("click", async () => {
    try {
      // The session on the page, even if another has started since it loaded.
      const answer = await putJSON(ofSession(`${api}/kind`, shownSession), { kind: select.value });
      $('[data-testid="session-kind"]').textContent = answer.label;
      toast(`已标记为「${answer.label}」`, "ok");
      load(); // the comparison depends on it
    } catch (err) {
      toast(err.message, "error");
    }
  });
}

/** Links to the room's other sessions (each with its kind), when it had more than one; the
 * review link follows the session on the page. */
async function sessionPicker(current) {
  const review = $('[data-testid="link-review"]');
  if (current) review.href = `/rooms/${encodeURIComponent(roomId)}/report?session=${current}`;
  let sessions = [];
  try {
    sessions = (await getJSON(`${api}/sessions`)).sessions ?? [];
  } catch {
    return; // the page itself loaded; the picker is a convenience
  }
  if (sessions.length < 2) return;
  const count = sessions.length;
  const links = sessions.map((s, i) => {
    const label = `第 ${count - i} 场 ${fmtDateTime(s.started_at)}（${KINDS[s.kind] ?? "常规"}）`;
    return s.id === current
      ? h("b", { testid: "after-session-current", text: label })
      : h("a", { href: `?session=${s.id}`, testid: "after-session-link", text: label });
  });
  $('[data-testid="after-sessions"]').replaceChildren(h("span", { class: "muted", text: "场次：" }), ...links);
}

let charts = [];

async function load() {
  let comparison, retention, followup;
  try {
    [comparison, retention, followup] = await Promise.all([
      getJSON(ofSession(`${api}/comparison`)),
      getJSON(ofSession(`${api}/retention`)),
      getJSON(ofSession(`${api}/followup`)),
    ]);
  } catch (err) {
    const errorEl = $('[data-testid="after-error"]');
    errorEl.textContent = `加载失败：${err.message}`;
    errorEl.classList.remove("hidden");
    return;
  }
  shownSession = comparison.session_id ?? null;
  $('[data-testid="after-title"]').textContent = comparison.title || roomId;
  const live = comparison.state === "live";
  $('[data-testid="after-period"]').textContent =
    `${fmtDateTime(comparison.started_at)} – ${live ? "直播中" : fmtDateTime(comparison.ended_at)}`;
  sessionPicker(shownSession);
  // The spreadsheet is of the session on the page.
  $('[data-testid="download-followup"]').href = ofSession(`${api}/followup?format=csv`, shownSession);
  $('[data-testid="session-kind"]').textContent = comparison.kind?.label ?? "常规";
  charts.forEach((c) => c.chart?.dispose());
  charts = [...renderComparison(comparison), ...renderRetention(retention)];
  renderFollowUp(followup);
  window.__livedesk = { loaded: true, kind: comparison.kind?.id };
  return comparison.kind?.id;
}

$('[data-testid="btn-print"]').addEventListener("click", () => window.print());
$('[data-testid="btn-send-followup"]').addEventListener("click", sendFollowUp);
window.addEventListener("beforeprint", () => charts.forEach((c) => c.resize()));
window.addEventListener("afterprint", () => charts.forEach((c) => c.resize()));
load().then((kind) => setupKind(kind ?? "regular"));
