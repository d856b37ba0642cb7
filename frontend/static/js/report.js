// The post-session report, from GET /api/v1/rooms/{room}/report.
import { getJSON, roomApi } from "./api.js";
import { Chart, axisStyle, palette, timeAxis } from "./charts.js";
import { CAMPAIGN_KIND_LABELS, $, fmtDateTime, fmtInt, fmtMoney, fmtMoneyShort, fmtPct, h, isNum, pageData, replace } from "./dom.js";
import { SESSION_KINDS, SESSION_LABELS } from "./show.js";

const { roomId } = pageData();
const p = palette();

function tile(label, value, sub, subClass = "", testid = "") {
  return h(
    "div",
    { class: "tile", testid: testid ? `report-${testid}` : null },
    h("span", { class: "label", text: label }),
    h("span", { class: "value", text: value }),
    h("span", { class: `sub ${subClass}`, text: sub ?? "" }),
  );
}

function duration(startIso, endIso) {
  const ms = Date.parse(endIso ?? "") - Date.parse(startIso ?? "");
  if (!Number.isFinite(ms) || ms <= 0) return "";
  const minutes = Math.round(ms / 60000);
  return minutes >= 60 ? `${Math.floor(minutes / 60)} 小时 ${minutes % 60} 分钟` : `${minutes} 分钟`;
}

/** Interaction depth under the peak: 累计 1,204 位观众 · 人均弹幕 3.1 条. */
function audience(k) {
  const parts = [];
  if (isNum(k.viewers_seen) && k.viewers_seen > 0) {
    const estimated = isNum(k.viewers_seen_estimated) && k.viewers_seen_estimated > 0;
    parts.push(`累计 ${fmtInt(k.viewers_seen)} 位观众${estimated ? "（按互动估算）" : ""}`);
  }
  if (isNum(k.comments_per_viewer)) parts.push(`人均弹幕 ${k.comments_per_viewer.toFixed(1)} 条`);
  return parts.join(" · ");
}

function renderSummary(report) {
  const k = report.kpis ?? {};
  const share = isNum(k.returning_share_session) ? k.returning_share_session : k.returning_share;
  const aovR = k.aov_returning_cents;
  const aovN = k.aov_new_cents;
  const lift = isNum(aovR) && isNum(aovN) && aovN > 0 ? (aovR - aovN) / aovN : null;
  const viewers = Array.isArray(report.viewers_timeline) ? report.viewers_timeline : [];
  const peak = isNum(k.viewers_peak) ? k.viewers_peak : viewers.reduce((max, row) => (isNum(row?.[1]) ? Math.max(max, row[1]) : max), 0);
  replace(
    $('[data-testid="report-summary"]'),
    tile("老客户占比", fmtPct(share), "本场进入直播间的观众中", "", "returning_share"),
    tile("优惠券核销率", fmtPct(k.redemption_rate), "已核销 / 已领取", "", "redemption_rate"),
    tile(
      "客单价 老客 / 新客",
      `${fmtMoney(aovR)} / ${fmtMoney(aovN)}`,
      lift === null ? "" : `老客${lift >= 0 ? "高" : "低"} ${fmtPct(Math.abs(lift))}`,
      lift === null ? "" : lift >= 0 ? "up" : "down",
      "aov",
    ),
    tile("客单价", fmtMoney(k.aov_cents), "全场 GMV ÷ 订单数", "", "aov_overall"),
    tile("加购转化", fmtPct(k.cart_conversion), isNum(k.carters) && k.carters > 0 ? `加购 ${fmtInt(k.carters)} 人，之后下单的占比` : "加购后下单 ÷ 加购人数", "", "cart_conversion"),
    tile("复购率（本场）", fmtPct(k.repurchase_rate_session), isNum(k.buyers) && k.buyers > 0 ? `下单 ${fmtInt(k.buyers)} 人中本场买了 2 单及以上` : "本场 2 单及以上 ÷ 下单人数", "", "repurchase_session"),
    tile("复购率（对比历史）", fmtPct(k.repurchase_rate_history), "下单的人中此前买过（历史场次或 CRM）", "", "repurchase_history"),
    tile("互动率", fmtPct(k.interaction_rate), "全场发过弹幕、点赞、送礼或下单的观众占比", "", "interaction_rate"),
    tile("GMV", fmtMoneyShort(k.gmv_cents), fmtMoney(k.gmv_cents), "", "gmv"),
    tile("订单数", fmtInt(k.orders), "", "", "orders"),
    tile("情绪指数", isNum(k.sentiment_index) ? k.sentiment_index.toFixed(2) : "—", "全场弹幕平均：0 = 很负面，1 = 很正面", "", "sentiment"),
    tile("在线峰值", peak ? fmtInt(peak) : "—", audience(k), "", "viewers_peak"),
  );
}

function roiCell(roi) {
  if (!isNum(roi)) return h("td", { class: "r", text: "—" });
  return h("td", { class: `r ${roi >= 1 ? "roi-good" : "roi-bad"}`, text: `${roi.toFixed(2)}×` });
}

function renderDrops(drops) {
  const body = $('[data-testid="report-drops"] tbody');
  if (!drops.length) {
    replace(body, h("tr", {}, h("td", { colspan: "8", class: "muted", text: "本场没有发放红包或优惠券" })));
    return;
  }
  replace(
    body,
    drops.map((d) =>
      h(
        "tr",
        { testid: "report-drop-row" },
        h("td", { text: CAMPAIGN_KIND_LABELS[d.kind] ?? d.kind ?? "" }),
        h("td", { text: d.title ?? "" }),
        h("td", { class: "r", text: fmtInt(d.claimed) }),
        h("td", { class: "r", text: fmtInt(d.redeemed) }),
        h("td", { class: "r", text: isNum(d.claimed) && d.claimed > 0 && isNum(d.redeemed) ? fmtPct(d.redeemed / d.claimed) : "—" }),
        h("td", { class: "r", text: fmtMoney(d.cost_cents) }),
        h("td", { class: "r", text: fmtMoney(d.gmv_cents) }),
        roiCell(d.roi),
      ),
    ),
  );
}

function renderIntents(rows) {
  const body = $('[data-testid="report-intents"] tbody');
  const clean = rows.filter((r) => Array.isArray(r) && isNum(r[2])).slice(0, 10);
  if (!clean.length) {
    replace(body, h("tr", {}, h("td", { colspan: "3", class: "muted", text: "无" })));
    return;
  }
  const max = Math.max(...clean.map((r) => r[2]));
  replace(
    body,
    clean.map(([id, label, count]) => {
      const meter = h("div", { class: "meter" });
      meter.style.width = `${((count / max) * 100).toFixed(1)}%`;
      return h("tr", {}, h("td", { text: label || id || "" }), h("td", { class: "r", text: fmtInt(count) }), h("td", {}, meter));
    }),
  );
}

function renderInterest(rows) {
  const body = $('[data-testid="report-interest"] tbody');
  const clean = rows.filter((r) => r && isNum(r.mentions)).slice(0, 10);
  if (!clean.length) {
    replace(body, h("tr", {}, h("td", { colspan: "3", class: "muted", text: "无" })));
    return;
  }
  const max = Math.max(...clean.map((r) => r.mentions));
  replace(
    body,
    clean.map((r) => {
      const meter = h("div", { class: "meter" });
      meter.style.width = `${((r.mentions / max) * 100).toFixed(1)}%`;
      return h("tr", { testid: "report-interest-row" }, h("td", { text: r.name || r.sku || "" }), h("td", { class: "r", text: fmtInt(r.mentions) }), h("td", {}, meter));
    }),
  );
}

function renderCustomers(rows) {
  const body = $('[data-testid="report-customers"] tbody');
  if (!rows.length) {
    replace(body, h("tr", {}, h("td", { colspan: "4", class: "muted", text: "无" })));
    return;
  }
  replace(
    body,
    rows.slice(0, 15).map((c) =>
      h(
        "tr",
        { testid: "report-customer-row" },
        h("td", { text: c.nickname ?? String(c.customer_id ?? "") }),
        h("td", { text: c.tier_label ?? "" }),
        h("td", { class: "r", text: fmtMoney(c.gmv_cents) }),
        h("td", { class: "r", text: fmtInt(c.orders) }),
      ),
    ),
  );
}

function timeRows(rows, index) {
  return rows
    .filter((row) => Array.isArray(row) && isNum(row[index]))
    .map((row) => [Date.parse(row[0]), row[index]])
    .filter(([t]) => Number.isFinite(t));
}

function renderCharts(report, alerts) {
  const viewers = Array.isArray(report.viewers_timeline) ? report.viewers_timeline : [];
  const sentiment = Array.isArray(report.sentiment_timeline) ? report.sentiment_timeline : [];
  const charts = [
    new Chart(
      $('[data-testid="report-chart-viewers"]'),
      {
        xAxis: timeAxis(6),
        yAxis: [
          { type: "value", ...axisStyle(), minInterval: 1 },
          { type: "value", ...axisStyle(), min: 0, max: 1, splitLine: { show: false }, axisLabel: { color: p.dim, formatter: (v) => `${Math.round(v * 100)}%` } },
        ],
        series: [
          { name: "在线人数", type: "line", showSymbol: false, data: timeRows(viewers, 1), itemStyle: { color: p.accent }, areaStyle: { opacity: 0.08 } },
          { name: "老客占比", type: "line", yAxisIndex: 1, showSymbol: false, data: timeRows(viewers, 2), itemStyle: { color: p.returning } },
        ],
      },
      { renderer: "svg" },
    ),
    new Chart(
      $('[data-testid="report-chart-sentiment"]'),
      {
        grid: { left: 40, right: 16, top: 28, bottom: 26 },
        xAxis: timeAxis(6),
        yAxis: { type: "value", ...axisStyle(), min: 0, max: 1 },
        series: [
          {
            name: "情绪指数",
            type: "line",
            showSymbol: false,
            data: timeRows(sentiment, 1),
            itemStyle: { color: p.ok },
            markArea: { silent: true, itemStyle: { color: p.danger, opacity: 0.07 }, data: [[{ yAxis: 0 }, { yAxis: 0.35 }]] },
            markLine: { symbol: "none", silent: true, label: { show: false }, data: alerts },
          },
        ],
      },
      { renderer: "svg" },
    ),
  ];
  // Charts are sized for the screen; paper is narrower.
  window.addEventListener("beforeprint", () => charts.forEach((c) => c.resize()));
  window.addEventListener("afterprint", () => charts.forEach((c) => c.resize()));
}

// ?session=ID reviews an earlier session of the room; without it, the newest.
const chosenSession = new URLSearchParams(location.search).get("session")?.match(/^\d+$/)?.[0] ?? null;

/** The downloads follow the session on the page. */
function sessionDownloads() {
  if (!chosenSession) return;
  for (const link of document.querySelectorAll('a[href*="/report"][download]')) {
    const url = new URL(link.href, location.href);
    url.searchParams.set("session", chosenSession);
    link.href = url.pathname + url.search;
  }
}

/** Links to the room's other sessions, when it had more than one. */
async function sessionPicker(current) {
  let sessions = [];
  try {
    sessions = (await getJSON(`${roomApi(roomId)}/sessions`)).sessions ?? [];
  } catch {
    return; // the review itself loaded; the picker is a convenience
  }
  if (sessions.length < 2) return;
  const count = sessions.length;
  const links = sessions.map((s, i) => {
    const kind = s.kind && s.kind !== "regular" ? ` ${SESSION_KINDS[s.kind] ?? s.kind}` : "";
    const label = `第 ${count - i} 场${kind} ${fmtDateTime(s.started_at)}（${SESSION_LABELS[s.state] ?? s.state}）`;
    return s.id === current
      ? h("b", { testid: "report-session-current", text: label })
      : h("a", { href: `?session=${s.id}`, testid: "report-session-link", text: label });
  });
  $('[data-testid="report-sessions"]').replaceChildren(h("span", { class: "muted", text: "场次：" }), ...links);
}

async function load() {
  let report;
  sessionDownloads();
  try {
    report = await getJSON(`${roomApi(roomId)}/report${chosenSession ? `?session=${chosenSession}` : ""}`);
  } catch (err) {
    const errorEl = $('[data-testid="report-error"]');
    errorEl.textContent = `报告加载失败：${err.message}`;
    errorEl.classList.remove("hidden");
    $('[data-testid="report-body"]').classList.add("hidden");
    $('[data-testid="report-period"]').textContent = "";
    return;
  }
  $('[data-testid="report-title"]').textContent = report.title || report.room_id || roomId;
  const span = duration(report.started_at, report.ended_at);
  // A room whose session ops started covers 开播 → 下播; one never started, all it saw.
  const state = report.session?.state;
  const which = state && state !== "not_started" ? `${SESSION_LABELS[state]} · 本场 ` : "";
  $('[data-testid="report-period"]').textContent =
    `${which}${fmtDateTime(report.started_at)} — ${report.ended_at ? fmtDateTime(report.ended_at) : "进行中"}${span ? `（${span}）` : ""}`;
  renderSummary(report);
  sessionPicker(report.session?.id ?? null);
  // 下播后 opens on the same session.
  if (report.session?.id) $('[data-testid="link-after"]').href = `/rooms/${encodeURIComponent(roomId)}/after?session=${report.session.id}`;
  renderDrops(Array.isArray(report.drops) ? report.drops : []);
  renderIntents(Array.isArray(report.top_intents) ? report.top_intents : []);
  renderInterest(Array.isArray(report.interest_ranking) ? report.interest_ranking : []);
  renderCustomers(Array.isArray(report.top_customers) ? report.top_customers : []);
  const alertMarks = (Array.isArray(report.alerts) ? report.alerts : [])
    .map((a) => [Date.parse(a?.ts ?? ""), a?.severity])
    .filter(([t]) => Number.isFinite(t))
    .map(([t, severity]) => ({ xAxis: t, lineStyle: { color: severity === "critical" ? p.danger : p.warn, type: "dashed" } }));
  renderCharts(report, alertMarks);
  document.title = `复盘报告 ${report.title || roomId} · livedesk`;
}

$('[data-testid="btn-print"]').addEventListener("click", () => window.print());
load();
