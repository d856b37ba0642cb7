// Ops console: live KPIs, charts, comment stream, alerts, campaigns and controls.
import { bindStatus, openChannel } from "./channel.js";
import { Chart, axisStyle, palette, timeAxis } from "./charts.js";
import { CommentStream } from "./comment-stream.js";
import { openCustomerCard } from "./customer-card.js";
import {
  CAMPAIGN_KIND_LABELS,
  SEVERITY_LABELS,
  STATE_LABELS,
  $,
  fmtInt,
  fmtMoney,
  fmtMoneyShort,
  fmtPct,
  fmtTime,
  fmtYuan,
  h,
  isNum,
  pageData,
  replace,
  toast,
} from "./dom.js";
import { setupControls } from "./ops-controls.js";
import { setupOutbox } from "./ops-outbox.js";
import { loginBanner } from "./session.js";
import { setupThresholds } from "./thresholds.js";

const SERIES_KEEP = 4 * 3600; // one point per second for four hours
const ALERTS_KEEP = 100;
const CAMPAIGNS_SHOWN = 8;
const CHART_INTERVAL_MS = 1000;

const { roomId } = pageData();
const channel = openChannel(roomId, { contiguous: true });
const msgTime = (msg) => {
  const ms = Date.parse(msg?.ts ?? "");
  return Number.isFinite(ms) ? ms : channel.now();
};

// ---- KPI tiles ------------------------------------------------------------------------------

const kpiEl = (name) => $(`[data-testid="kpi-${name}"]`);

const KPI_FORMATS = {
  viewers_now: fmtInt,
  returning_share: (v) => fmtPct(v),
  gmv_cents: fmtMoneyShort,
  orders: fmtInt,
  redemption_rate: (v) => fmtPct(v),
  interaction_rate: (v) => fmtPct(v),
  sentiment_index: (v) => (isNum(v) ? v.toFixed(2) : "—"),
};

const kpi = {};

function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}

function renderKpis() {
  for (const [name, format] of Object.entries(KPI_FORMATS)) {
    if (name in kpi) setText(kpiEl(name), format(kpi[name]));
  }
  if (isNum(kpi.gmv_cents)) kpiEl("gmv_cents").title = fmtMoney(kpi.gmv_cents);
  if (isNum(kpi.returning_share_session)) setText(kpiEl("returning_share_session"), `本场累计 ${fmtPct(kpi.returning_share_session)}`);
  if (isNum(kpi.comments_per_min)) {
    const rate = `弹幕 ${fmtInt(kpi.comments_per_min)} 条/分`;
    setText(kpiEl("comments_per_min"), rate);
    setText($('[data-testid="comment-rate"]'), `${fmtInt(kpi.comments_per_min)} 条/分`);
  }
  const aovReturning = kpi.aov_returning_cents;
  const aovNew = kpi.aov_new_cents;
  if (isNum(aovReturning) || isNum(aovNew)) {
    setText(kpiEl("aov"), `${fmtYuan(aovReturning)} / ${fmtYuan(aovNew)}`);
    const liftEl = kpiEl("aov_lift");
    if (isNum(aovReturning) && isNum(aovNew) && aovNew > 0) {
      const lift = (aovReturning - aovNew) / aovNew;
      setText(liftEl, `老客${lift >= 0 ? "高" : "低"} ${fmtPct(Math.abs(lift))}`);
      liftEl.className = `kpi-sub ${lift >= 0 ? "up" : "down"}`;
    }
  }
}

// Platform delivery health: the server's webhook ack p99 (last minute) against the budget.
const DELIVERY_WARN_MS = 500;
const DELIVERY_STATES = { ok: "正常", warn: "偏慢", danger: "超出预算", idle: "无推送" };
const fmtMs = (ms) => (ms >= 1000 ? `${Number((ms / 1000).toFixed(1))} s` : `${fmtInt(ms)} ms`);

function deliveryState(p99, budget, errors) {
  if (errors > 0 || (isNum(p99) && p99 > budget)) return "danger";
  if (!isNum(p99)) return "idle";
  return p99 > DELIVERY_WARN_MS ? "warn" : "ok";
}

function renderDelivery(delivery) {
  const tile = kpiEl("delivery");
  if (!tile || !delivery) return;
  const p99 = delivery.ack_p99_ms;
  const budget = isNum(delivery.budget_ms) ? delivery.budget_ms : 2000;
  const errors = isNum(delivery.errors_1m) ? delivery.errors_1m : 0;
  const state = deliveryState(p99, budget, errors);
  tile.dataset.state = state;
  setText(kpiEl("delivery-p99"), isNum(p99) ? fmtMs(p99) : "—");
  const failing = errors > 0 ? ` · 5xx ${fmtInt(errors)} 次` : "";
  setText(kpiEl("delivery-sub"), `${DELIVERY_STATES[state]} · 预算 ${fmtMs(budget)}${failing}`);
}

// Each platform feeding this room (its own, and shops mapped to it), against its own budget.
const PLATFORM_NAMES = {
  douyin: "抖音", douyin_open: "抖音开放平台", doudian: "抖店", kuaishou: "快手",
  wechat_shop: "微信小店", generic: "通用", wechat: "视频号",
};

function renderDeliveryPlatforms(platforms) {
  const line = kpiEl("delivery-platforms");
  if (!line || !platforms) return;
  const parts = Object.entries(platforms).map(([name, f]) => {
    const label = PLATFORM_NAMES[name] ?? name;
    const p99 = isNum(f.ack_p99_ms) ? fmtMs(f.ack_p99_ms) : "—";
    return `${label} ${p99}/${fmtMs(f.budget_ms)}${f.over_budget ? " 超预算" : ""}`;
  });
  setText(line, parts.join("\n"));
  line.dataset.over = String(Object.values(platforms).some((f) => f.over_budget));
}

function mergeKpi(data) {
  for (const [key, value] of Object.entries(data ?? {})) {
    if (isNum(value)) kpi[key] = value;
  }
  renderKpis();
}

// ---- time series and charts -----------------------------------------------------------------

const series = { viewers: [], returning: [], sentiment1m: [], sentiment5m: [] };
let intents = [];
let keywords = [];
const dirty = new Set();

function pushPoint(list, atMs, value) {
  if (!isNum(value) || !Number.isFinite(atMs)) return;
  const last = list[list.length - 1];
  if (!last || atMs >= last[0] + 1000) list.push([atMs, value]);
  else if (atMs >= last[0] - 1000) last[1] = value; // one point per second is enough
  else {
    // Older than the newest point (history after a reset): keep the series sorted by time.
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid][0] < atMs) lo = mid + 1;
      else hi = mid;
    }
    if (list[lo] && Math.abs(list[lo][0] - atMs) < 1000) list[lo][1] = value;
    else list.splice(lo, 0, [atMs, value]);
  }
  if (list.length > SERIES_KEEP) list.splice(0, list.length - SERIES_KEEP);
}

const p = palette();
const pctAxis = { min: 0, max: 1, axisLabel: { color: p.dim, formatter: (v) => `${Math.round(v * 100)}%` } };

const viewersChart = new Chart($('[data-testid="chart-viewers"]'), {
  xAxis: timeAxis(4),
  yAxis: [
    { type: "value", ...axisStyle(), minInterval: 1 },
    { type: "value", ...axisStyle(), ...pctAxis, splitLine: { show: false } },
  ],
  series: [
    { name: "在线人数", type: "line", showSymbol: false, data: [], lineStyle: { width: 2 }, itemStyle: { color: p.accent }, areaStyle: { opacity: 0.08 } },
    { name: "老客占比", type: "line", yAxisIndex: 1, showSymbol: false, data: [], lineStyle: { width: 2 }, itemStyle: { color: p.returning } },
  ],
});

const sentimentChart = new Chart($('[data-testid="chart-sentiment"]'), {
  grid: { left: 40, right: 16, top: 28, bottom: 26 },
  xAxis: timeAxis(4),
  yAxis: { type: "value", ...axisStyle(), min: 0, max: 1 },
  series: [
    {
      name: "1 分钟",
      type: "line",
      showSymbol: false,
      data: [],
      itemStyle: { color: p.ok },
      lineStyle: { width: 2 },
      markArea: { silent: true, itemStyle: { color: p.danger, opacity: 0.07 }, data: [[{ yAxis: 0 }, { yAxis: 0.35 }]] },
      markLine: { symbol: "none", silent: true, data: [] },
    },
    { name: "5 分钟", type: "line", showSymbol: false, data: [], itemStyle: { color: p.gold }, lineStyle: { width: 1.5, type: "dashed" } },
  ],
});

function barOption(color) {
  return {
    grid: { left: 8, right: 36, top: 6, bottom: 6, containLabel: true },
    tooltip: { trigger: "item", renderMode: "richText" },
    xAxis: { type: "value", ...axisStyle(), minInterval: 1, splitLine: { show: false }, axisLabel: { show: false } },
    yAxis: { type: "category", inverse: true, data: [], ...axisStyle(), axisLabel: { color: p.text, width: 90, overflow: "truncate" } },
    series: [{ type: "bar", data: [], barMaxWidth: 16, itemStyle: { color, borderRadius: [0, 4, 4, 0] }, label: { show: true, position: "right", color: p.dim } }],
  };
}

const intentsChart = new Chart($('[data-testid="chart-intents"]'), barOption(p.accent));
const keywordsChart = new Chart($('[data-testid="chart-keywords"]'), barOption(p.gold));

const SEVERITY_COLORS = { info: p.accent, warning: p.warn, critical: p.danger };

const WINDOW_MAX_MS = 60 * 60 * 1000;
const WINDOW_MIN_MS = 3 * 60 * 1000;

/** The last hour at most, at least three minutes: a fresh session neither spans a whole day
 * nor sits squeezed against the right edge of an empty axis. */
function timeWindow(...lists) {
  const ends = lists.filter((l) => l.length).map((l) => l[l.length - 1][0]);
  const starts = lists.filter((l) => l.length).map((l) => l[0][0]);
  if (!ends.length) return {};
  const max = Math.max(...ends);
  const min = Math.min(max - WINDOW_MIN_MS, Math.max(Math.min(...starts), max - WINDOW_MAX_MS));
  return { min, max };
}

function renderCharts() {
  if (dirty.has("viewers")) {
    viewersChart.update({ xAxis: timeWindow(series.viewers, series.returning), series: [{ data: series.viewers }, { data: series.returning }] });
  }
  if (dirty.has("sentiment") || dirty.has("alerts")) {
    // Warnings and critical alerts only: info notices (a customer came back) arrive every few
    // seconds and would turn the timeline into a barcode.
    const marks = [...alerts.values()]
      .filter((a) => a.atMs && a.severity !== "info")
      .slice(-30)
      .map((a) => ({
        xAxis: a.atMs,
        lineStyle: { color: SEVERITY_COLORS[a.severity] ?? p.warn, type: "dashed", width: 1.5 },
        label: { show: false },
      }));
    sentimentChart.update({
      xAxis: timeWindow(series.sentiment1m, series.sentiment5m),
      series: [{ data: series.sentiment1m, markLine: { data: marks } }, { data: series.sentiment5m }],
    });
  }
  if (dirty.has("intents")) {
    intentsChart.update({ yAxis: { data: intents.map(([label]) => label) }, series: [{ data: intents.map(([, n]) => n) }] });
  }
  if (dirty.has("keywords")) {
    keywordsChart.update({ yAxis: { data: keywords.map(([w]) => w) }, series: [{ data: keywords.map(([, n]) => n) }] });
  }
  dirty.clear();
}

function applySentiment(data, atMs) {
  pushPoint(series.sentiment1m, atMs, data.index_1m);
  pushPoint(series.sentiment5m, atMs, data.index_5m);
  dirty.add("sentiment");
  if (isNum(data.negative_share_1m)) setText(kpiEl("negative_share"), `负面 ${fmtPct(data.negative_share_1m)}（1 分钟）`);
  if (data.intents && typeof data.intents === "object") {
    const labels = data.intent_labels ?? {};
    intents = Object.entries(data.intents)
      .filter(([, n]) => isNum(n) && n > 0)
      .map(([id, n]) => [String(labels[id] ?? id), n])
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8);
    dirty.add("intents");
  }
  if (Array.isArray(data.top_keywords)) {
    keywords = data.top_keywords
      .filter((pair) => Array.isArray(pair) && isNum(pair[1]))
      .map(([w, n]) => [String(w), n])
      .slice(0, 10);
    dirty.add("keywords");
  }
}

// ---- alerts ---------------------------------------------------------------------------------

const alerts = new Map();
const alertFeedEl = $('[data-testid="alert-feed"]');

function upsertAlert(alert, atMs, live) {
  if (!alert || alert.id === undefined) return;
  const previous = alerts.get(alert.id);
  alerts.delete(alert.id); // re-insert so the Map keeps newest last
  alerts.set(alert.id, { ...previous, ...alert, atMs: previous?.atMs ?? atMs, updatedMs: atMs });
  while (alerts.size > ALERTS_KEEP) alerts.delete(alerts.keys().next().value);
  // Toast only what is happening now, not history replayed after a reconnect.
  const fresh = channel.now() - atMs < 60_000;
  if (live && fresh && !previous && alert.severity === "critical" && alert.state !== "resolved") {
    toast(`严重告警：${alert.title ?? ""}`, "error", 8000);
  }
  dirty.add("alerts");
}

function renderAlerts() {
  const list = [...alerts.values()].reverse();
  const open = list.filter((a) => a.state !== "resolved").length;
  setText($('[data-testid="alert-open-count"]'), String(open));
  if (!list.length) {
    replace(alertFeedEl, h("li", { class: "empty-note", text: "暂无告警" }));
    return;
  }
  replace(
    alertFeedEl,
    list.map((a) =>
      h(
        "li",
        { class: `alert-item sev-${a.severity ?? "info"} state-${a.state ?? "open"}`, testid: "alert-item", dataset: { alertId: String(a.id) } },
        h(
          "div",
          { class: "top" },
          h("span", { class: `badge ${a.severity === "critical" ? "badge-danger" : a.severity === "warning" ? "badge-warn" : ""}`, text: SEVERITY_LABELS[a.severity] ?? "提示" }),
          h("span", { class: "title", text: a.title ?? a.kind ?? "" }),
          h("time", { text: fmtTime(a.updatedMs) }),
        ),
        a.detail ? h("div", { class: "detail", text: a.detail }) : null,
        a.state === "resolved" ? h("div", { class: "detail", text: "已恢复" }) : null,
      ),
    ),
  );
}

// ---- campaigns (red packets and coupons) ----------------------------------------------------

const campaigns = new Map();
const campaignListEl = $('[data-testid="campaign-list"]');

function upsertCampaign(source, data) {
  const id = source === "coupon" ? data?.drop_id : data?.campaign_id;
  if (id === undefined || id === null) return;
  const key = `${source}:${id}`;
  campaigns.delete(key);
  campaigns.set(key, { ...data, source, key });
  renderCampaigns();
}

function renderCampaigns() {
  const rank = (c) => (c.state === "running" ? 0 : c.state === "announced" ? 1 : c.state === "paused" ? 2 : 3);
  const list = [...campaigns.values()].reverse().sort((a, b) => rank(a) - rank(b)).slice(0, CAMPAIGNS_SHOWN);
  if (!list.length) {
    replace(campaignListEl, h("li", { class: "empty-note", text: "暂无红包或优惠券活动" }));
    return;
  }
  replace(
    campaignListEl,
    list.map((c) => {
      const isCoupon = c.source === "coupon";
      const used = isCoupon ? c.claimed : c.spent_cents;
      const total = isCoupon ? c.quantity : c.budget_cents;
      const ratio = isNum(used) && isNum(total) && total > 0 ? Math.min(1, used / total) : 0;
      const meta = isCoupon
        ? `已领 ${fmtInt(c.claimed ?? 0)} / ${fmtInt(c.quantity)}`
        : `已发 ${fmtMoney(c.spent_cents ?? 0)} / ${fmtMoney(c.budget_cents)} · ${fmtInt(c.granted ?? 0)} / ${fmtInt(c.quantity)} 个`;
      const bar = h("div", { class: "bar" }, h("span"));
      bar.firstChild.style.width = `${(ratio * 100).toFixed(1)}%`;
      return h(
        "li",
        { class: "campaign-item", testid: "campaign-item", dataset: { key: c.key, state: c.state ?? "" } },
        h(
          "div",
          { class: "top" },
          h("span", { class: "badge", text: isCoupon ? "优惠券" : CAMPAIGN_KIND_LABELS[c.kind] ?? "红包" }),
          h("span", { class: "title", text: c.title ?? "" }),
          h("span", { class: `badge ${c.state === "running" ? "badge-ok" : ""}`, text: STATE_LABELS[c.state] ?? c.state ?? "" }),
        ),
        bar,
        h("div", { class: "meta num", text: `${meta}${c.passphrase ? ` · 口令 ${c.passphrase}` : ""}` }),
      );
    }),
  );
}

// ---- promotion state ------------------------------------------------------------------------

function setPromotion(data) {
  const paused = data?.state === "paused";
  const text = paused ? `已暂停${data.by ? `（${data.by}）` : ""}` : "运行中";
  setText($('[data-testid="promotion-state"]'), text);
  const badge = $('[data-testid="promotion-badge"]');
  setText(badge, `自动发放：${text}`);
  badge.className = `badge ${paused ? "badge-warn" : "badge-ok"}`;
}

// ---- comments -------------------------------------------------------------------------------

const stats = { received: 0, rendered: 0, skipped: 0, frames: 0 };
window.__livedesk.comments = stats;
const stream = new CommentStream($('[data-testid="comment-list"]'), {
  maxRows: 200,
  filterEl: $('[data-testid="comment-filter"]'),
  pausedEl: $('[data-testid="stream-paused"]'),
  skippedEl: $('[data-testid="comment-skipped"]'),
  onName: (customerId, nickname) => openCustomerCard(customerId, nickname),
  stats,
});

function stampComments(comments, atMs) {
  if (!Array.isArray(comments)) return [];
  return comments.map((c) => (c && c.ts === undefined ? { ...c, ts: atMs } : c)).filter(Boolean);
}

// ---- channel wiring -------------------------------------------------------------------------

channel.on("snapshot", (snap, msg) => {
  const atMs = msgTime(msg);
  for (const key of Object.keys(kpi)) delete kpi[key];
  mergeKpi({ ...(snap.kpi ?? {}), ...(isNum(snap.viewers_now) ? { viewers_now: snap.viewers_now } : {}) });
  renderDelivery(snap.kpi?.delivery);
  renderDeliveryPlatforms(snap.kpi?.delivery_platforms);
  pushPoint(series.viewers, atMs, kpi.viewers_now);
  pushPoint(series.returning, atMs, kpi.returning_share);
  dirty.add("viewers");
  if (snap.sentiment) applySentiment(snap.sentiment, atMs);
  alerts.clear();
  (snap.alerts ?? []).forEach((a) => upsertAlert(a, atMs, false));
  dirty.add("alerts");
  campaigns.clear();
  (snap.campaigns ?? []).forEach((c) => upsertCampaign("red_packet", c));
  (snap.coupons ?? []).forEach((c) => upsertCampaign("coupon", c));
  renderCampaigns();
  setPromotion(snap.promotion);
  stream.reset(stampComments(snap.recent_comments, atMs));
});

channel.on("comment", (data, msg) => stream.push(stampComments(data.comments, msgTime(msg))));
channel.on("viewers", (data, msg) => {
  mergeKpi({ viewers_now: data.viewers_now });
  pushPoint(series.viewers, msgTime(msg), data.viewers_now);
  dirty.add("viewers");
});
channel.on("kpi", (data, msg) => {
  mergeKpi(data);
  renderDelivery(data.delivery);
  renderDeliveryPlatforms(data.delivery_platforms);
  const atMs = msgTime(msg);
  pushPoint(series.viewers, atMs, data.viewers_now);
  pushPoint(series.returning, atMs, data.returning_share);
  dirty.add("viewers");
});
// Unsequenced, straight from the server every second it changes: the tile shows an incident
// while it happens, even when no kpi frame can be written.
channel.on("delivery", (data) => renderDelivery(data));
channel.on("sentiment", (data, msg) => applySentiment(data, msgTime(msg)));
channel.on("alert", (data, msg) => upsertAlert(data, msgTime(msg), true));
channel.on("red_packet", (data) => upsertCampaign("red_packet", data));
channel.on("coupon", (data) => upsertCampaign("coupon", data));
channel.on("promotion", setPromotion);
channel.on("error", (data) => toast(data.reason ?? "实时通道出错", "error"));
channel.on("denied", () => loginBanner());

setInterval(() => {
  if (dirty.has("alerts")) renderAlerts();
  if (dirty.size) renderCharts();
}, CHART_INTERVAL_MS);

bindStatus(channel, $('[data-testid="conn-status"]'));
setupControls(roomId);
setupThresholds(roomId, channel);
setupOutbox(roomId);
renderAlerts();
renderCampaigns();
channel.start();
