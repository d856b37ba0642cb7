// Ops console: wires the live channel to the KPI tiles, charts, comment stream, alerts,
// campaigns and controls, and binds the keyboard shortcuts the page lists.
import { Alarm } from "./alarm.js";
import { getJSON, roomApi } from "./api.js";
import { bindStatus, openChannel } from "./channel.js";
import { CommentStream } from "./comment-stream.js";
import { openCustomerCard } from "./customer-card.js";
import { $, fmtInt, fmtPct, isNum, pageData, toast } from "./dom.js";
import { AlertBoard } from "./ops-alerts.js";
import { CampaignList } from "./ops-campaigns.js";
import { OpsCharts } from "./ops-charts.js";
import { HintQueue } from "./ops-hints.js";
import { ProductBoard } from "./ops-products.js";
import { pausePromotions, setupControls, showTab } from "./ops-controls.js";
import { KpiTiles } from "./ops-kpis.js";
import { setupOutbox } from "./ops-outbox.js";
import { HeldReview } from "./ops-review.js";
import { setupRules } from "./ops-rules.js";
import { ShowPanel } from "./ops-show.js";
import { loginBanner } from "./session.js";
import { bindShortcuts, showShortcuts } from "./shortcuts.js";
import { setupThresholds } from "./thresholds.js";

const RENDER_INTERVAL_MS = 1000;

const { roomId, operator } = pageData();
const channel = openChannel(roomId, { contiguous: true });
const msgTime = (msg) => {
  const ms = Date.parse(msg?.ts ?? "");
  return Number.isFinite(ms) ? ms : channel.now();
};

// A room no event has created yet (ops opened its console to press 开播 before the stream's
// first viewer): what the console reads of the room waits until it exists, which the live
// channel says by the room's epoch (its 开播, or its first event).
let roomExists = pageData().roomExists !== "false";
const untilRoomExists = [];
function onceRoomExists(start) {
  if (roomExists) start();
  else untilRoomExists.push(start);
}
function noteRoom(msg) {
  if (roomExists || !msg?.epoch) return;
  roomExists = true;
  for (const start of untilRoomExists.splice(0)) start();
}

const kpis = new KpiTiles();
const charts = new OpsCharts();
const alarm = new Alarm($('[data-testid="btn-mute"]'), "livedesk:ops:muted");
window.__livedesk.alarm = alarm.log;
Object.defineProperty(window.__livedesk, "chartPoints", {
  get: () => ({ viewers: charts.series.viewers.length, sentiment: charts.series.sentiment1m.length }),
  enumerable: false, // read by browser tests; kept out of the serialised state
});
const pauseFromAlert = (button) => pausePromotions(roomId, button);
const alerts = new AlertBoard({
  roomId,
  listEl: $('[data-testid="alert-feed"]'),
  countEl: $('[data-testid="alert-open-count"]'),
  bannerEl: $('[data-testid="critical-banner"]'),
  alarm,
  now: () => channel.now(),
  onPause: pauseFromAlert,
});
const products = new ProductBoard(roomId, $('[data-testid="product-list"]'));
const show = new ShowPanel({ roomId, now: () => channel.now() });
const hintQueue = new HintQueue(roomId, $('[data-testid="hint-queue"]'), $('[data-testid="hint-count"]'), () => channel.now());
const review = new HeldReview(roomId, () => campaigns.refresh());
const campaigns = new CampaignList({
  roomId,
  listEl: $('[data-testid="campaign-list"]'),
  me: operator ?? "",
  onReview: (campaign) => review.open(campaign),
});

// ---- platform delivery and fulfilment: critical conditions the console sees itself --------

function onDelivery(delivery, platforms) {
  const seen = kpis.delivery(delivery);
  const over = kpis.platforms(platforms);
  if (!seen && !platforms) return;
  if (seen?.state === "danger" || over.length) {
    const why = over.length
      ? `${over.join("、")}的推送应答超过其预算`
      : seen.errors > 0
        ? `最近 1 分钟 5xx ${fmtInt(seen.errors)} 次`
        : `应答 p99 ${fmtInt(seen.p99)} ms，超过预算 ${fmtInt(seen.budget)} ms`;
    alerts.raiseLocal("delivery", "平台推送超出预算", `${why}：平台可能停止推送或丢事件，请检查服务器。`);
  } else if (seen) {
    alerts.resolveLocal("delivery");
  }
}

let deadBefore = null;
function onOutbox(counts) {
  const dead = isNum(counts.dead) ? counts.dead : 0;
  if (deadBefore !== null && dead > deadBefore) {
    alerts.raiseLocal("fulfilment_dead", "履约推送失败", `${fmtInt(dead)} 笔红包/优惠券没能送到品牌系统（重试已用尽），点「履约推送」查看并重试。`);
  } else if (dead === 0) {
    alerts.resolveLocal("fulfilment_dead");
  }
  deadBefore = dead;
}

// ---- promotion state --------------------------------------------------------------------

let paused = false;
function setPromotion(data) {
  paused = data?.state === "paused";
  const text = paused ? `已暂停${data.by ? `（${data.by === "alert" ? "告警自动" : data.by}）` : ""}` : "运行中";
  $('[data-testid="promotion-state"]').textContent = text;
  const badge = $('[data-testid="promotion-badge"]');
  badge.textContent = `发放：${text}`;
  badge.className = `badge ${paused ? "badge-warn" : "badge-ok"}`;
  alerts.setPaused(paused);
  campaigns.setPaused(paused);
}

// ---- comments ---------------------------------------------------------------------------

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

// ---- channel wiring ---------------------------------------------------------------------

channel.on("snapshot", (snap, msg) => {
  noteRoom(msg);
  const atMs = msgTime(msg);
  kpis.reset();
  kpis.merge({ ...(snap.kpi ?? {}), viewers_now: snap.viewers_now, viewers_estimated: snap.viewers_estimated });
  onDelivery(snap.kpi?.delivery, snap.kpi?.delivery_platforms);
  charts.viewers(atMs, kpis.values.viewers_now, kpis.values.returning_share);
  if (snap.sentiment) charts.sentiment(snap.sentiment, atMs);
  alerts.clear();
  (snap.alerts ?? []).forEach((a) => alerts.upsert(a, atMs, false));
  campaigns.clear();
  (snap.campaigns ?? []).forEach((c) => campaigns.upsert("red_packet", c));
  (snap.coupons ?? []).forEach((c) => campaigns.upsert("coupon", c));
  setPromotion(snap.promotion);
  if (roomExists) campaigns.refresh();
  products.setFigures(snap.kpi?.products);
  products.setInterest(snap.sentiment?.interest);
  products.setCurrent(snap.product);
  products.render();
  show.setSession(snap.session);
  tilesSession = snap.session?.id ?? null;
  show.setRundown(snap.rundown);
  hintQueue.clear();
  (snap.hints ?? []).forEach((hint) => hintQueue.upsert(hint));
  hintQueue.render();
  if (roomExists) loadHistory();
  stream.reset(stampComments(snap.recent_comments, atMs));
});

channel.on("comment", (data, msg) => stream.push(stampComments(data.comments, msgTime(msg))));
channel.on("viewers", (data, msg) => {
  kpis.merge({ viewers_now: data.viewers_now, viewers_estimated: data.viewers_estimated });
  charts.viewers(msgTime(msg), data.viewers_now, undefined);
});
channel.on("kpi", (data, msg) => {
  noteRoom(msg);
  kpis.merge(data);
  onDelivery(data.delivery, data.delivery_platforms);
  products.setFigures(data.products);
  charts.viewers(msgTime(msg), data.viewers_now, data.returning_share);
});
// Unsequenced, straight from the server every second it changes: the tile shows an incident
// while it happens, even when no kpi frame can be written.
channel.on("delivery", (data) => onDelivery(data));
channel.on("sentiment", (data, msg) => {
  charts.sentiment(data, msgTime(msg));
  products.setInterest(data.interest);
  if (isNum(data.negative_share_1m)) $('[data-testid="kpi-negative_share"]').textContent = `近1分负面 ${fmtPct(data.negative_share_1m, 0)}`;
});
channel.on("alert", (data, msg) => alerts.upsert(data, msgTime(msg), true));
channel.on("red_packet", (data) => {
  campaigns.upsert("red_packet", data);
  campaigns.render();
});
channel.on("coupon", (data) => {
  campaigns.upsert("coupon", data);
  campaigns.render();
});
channel.on("promotion", setPromotion);
channel.on("product", (data) => {
  products.setCurrent(data);
  products.render();
});
// 开播: the tiles start over (the kpi frame right behind the session message fills them).
let tilesSession = null;
channel.on("session", (data, msg) => {
  noteRoom(msg);
  if (data.state === "live" && data.id !== tilesSession) kpis.reset();
  tilesSession = data.id ?? null;
  show.setSession(data);
});
channel.on("rundown", (data) => show.setRundown(data));
channel.on("hint", (data) => {
  hintQueue.upsert(data);
  hintQueue.render();
});
channel.on("hint_dismissed", (data) => {
  hintQueue.remove(data.id);
  hintQueue.render();
});
channel.on("error", (data) => toast(data.reason ?? "实时通道出错", "error"));
channel.on("denied", () => loginBanner());

// A console opened late or reloaded draws the session so far, then the live frames go on.
let historyLoaded = false;
async function loadHistory() {
  if (historyLoaded) return;
  historyLoaded = true;
  try {
    charts.history(await getJSON(`${roomApi(roomId)}/series`));
  } catch {
    historyLoaded = false; // the next snapshot tries again
  }
}

setInterval(() => {
  const alertsChanged = alerts.dirty;
  alerts.render();
  charts.render(alerts.markers(), alertsChanged);
  products.render();
  hintQueue.render();
}, RENDER_INTERVAL_MS);

for (const tab of document.querySelectorAll(".chart-tab")) tab.addEventListener("click", () => charts.showBars(tab.dataset.chart));

// ---- keyboard ---------------------------------------------------------------------------

const TABS = ["coupon", "red-packet", "hint", "promotion", "thresholds"];
const shortcuts = [
  { keys: ["1", "2", "3", "4", "5"], label: "切换操作卡片：发券 / 红包 / 提示 / 暂停发放 / 阈值", run: (e) => showTab(TABS[Number(e.key) - 1]) },
  { keys: ["n"], label: "排品：下一个商品上提词器（商品卡跟着换）", run: () => show.next() },
  { keys: ["p"], label: "立即暂停全部发放（红包和优惠券，自动和手动）", run: () => pausePromotions(roomId, $('[data-testid="btn-pause-promotions"]')) },
  { keys: ["a"], label: "确认全部严重告警（横幅收起）", run: () => alerts.acknowledgeAll() },
  { keys: ["m"], label: "告警提示音和桌面通知：静音 / 打开", run: () => alarm.setMuted(!alarm.muted) },
  { keys: ["r"], label: "打开待审核的领取", run: () => review.open() },
  { keys: ["/"], label: "筛选弹幕", run: () => $('[data-testid="comment-filter"]').focus() },
  { keys: ["?"], label: "显示本列表", run: () => showShortcuts(shortcuts) },
];
bindShortcuts(shortcuts);
$('[data-testid="btn-shortcuts"]').addEventListener("click", () => showShortcuts(shortcuts));

bindStatus(channel, $('[data-testid="conn-status"]'));
setupControls(roomId, { isPaused: () => paused, onCreated: (data) => campaigns.created(data) });
onceRoomExists(() => setupThresholds(roomId, channel));
setupRules(roomId, channel);
onceRoomExists(() => setupOutbox(roomId, onOutbox));
onceRoomExists(() => campaigns.start());
onceRoomExists(() => products.load());
onceRoomExists(() => show.load());
setInterval(() => show.render(), 250); // the on-air timer: every second shown, none skipped
alerts.render();
campaigns.render();
channel.start();
