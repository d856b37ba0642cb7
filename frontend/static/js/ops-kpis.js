// The ops console's KPI tiles, and the platform-delivery tile (webhook ack p99 against the
// platform's budget: whatever the kpi message's `delivery` says, while it is happening).
import { $, fmtInt, fmtMoney, fmtMoneyShort, fmtPct, fmtYuan, isNum } from "./dom.js";
import { viewersFigure } from "./viewers.js";

/** 12,345 -> 1.2万: counts that grow all night stay short. */
export const fmtCount = (n) => (isNum(n) && n >= 10000 ? `${(n / 10000).toFixed(1)}万` : fmtInt(n));

const FORMATS = {
  likes: fmtCount,
  gifts: fmtCount,
  follows: fmtCount,
  returning_share: (v) => fmtPct(v),
  gmv_cents: fmtMoneyShort,
  orders: fmtInt,
  redemption_rate: (v) => fmtPct(v),
  interaction_rate: (v) => fmtPct(v),
  sentiment_index: (v) => (isNum(v) ? v.toFixed(2) : "—"),
};

const DELIVERY_WARN_MS = 500;
const DELIVERY_STATES = { ok: "正常", warn: "偏慢", danger: "超出预算", idle: "无推送" };

export const fmtMs = (ms) => (ms >= 1000 ? `${Number((ms / 1000).toFixed(1))} s` : `${fmtInt(ms)} ms`);

/** ok | warn | danger | idle for a delivery figure (pure). */
export function deliveryState(p99, budget, errors) {
  if (errors > 0 || (isNum(p99) && p99 > budget)) return "danger";
  if (!isNum(p99)) return "idle";
  return p99 > DELIVERY_WARN_MS ? "warn" : "ok";
}

// Each platform feeding this room (its own, and shops mapped to it), against its own budget.
const PLATFORM_NAMES = {
  douyin: "抖音",
  douyin_open: "抖音开放平台",
  doudian: "抖店",
  kuaishou: "快手",
  wechat_shop: "微信小店",
  generic: "通用",
  wechat: "视频号",
};
export const platformName = (name) => PLATFORM_NAMES[name] ?? name;

const el = (name) => $(`[data-testid="kpi-${name}"]`);

function setText(node, text) {
  if (node && node.textContent !== text) node.textContent = text;
}

export class KpiTiles {
  constructor() {
    this.values = {};
  }

  reset() {
    this.values = {};
  }

  merge(data) {
    for (const [key, value] of Object.entries(data ?? {})) {
      if (isNum(value)) this.values[key] = value;
    }
    this.render();
  }

  render() {
    const k = this.values;
    for (const [name, format] of Object.entries(FORMATS)) {
      if (name in k) setText(el(name), format(k[name]));
    }
    if (isNum(k.gmv_cents)) el("gmv_cents").title = fmtMoney(k.gmv_cents);
    this.renderViewers(k.viewers_now, k.viewers_estimated);
    if (isNum(k.gift_cents)) setText(el("gift_cents"), `价值 ${fmtMoneyShort(k.gift_cents)}`);
    if (isNum(k.returning_share_session)) setText(el("returning_share_session"), `本场累计 ${fmtPct(k.returning_share_session)}`);
    if (isNum(k.comments_per_min)) {
      setText(el("comments_per_min"), `弹幕 ${fmtInt(k.comments_per_min)} 条/分`);
      setText($('[data-testid="comment-rate"]'), `${fmtInt(k.comments_per_min)} 条/分`);
    }
    this.renderAov(k.aov_returning_cents, k.aov_new_cents, k.aov_cents);
  }

  renderViewers(now, estimated) {
    if (!isNum(now)) return;
    const figure = viewersFigure(now, estimated);
    setText(el("viewers_now"), figure.number);
    const tile = el("viewers_now").closest(".kpi");
    tile.title = figure.title;
    tile.dataset.estimated = String(figure.estimated);
    el("viewers-estimated").classList.toggle("hidden", !figure.estimated);
  }

  renderAov(returning, fresh, overall) {
    if (!isNum(returning) && !isNum(fresh)) return;
    setText(el("aov"), `${fmtYuan(returning)} / ${fmtYuan(fresh)}`);
    const liftEl = el("aov_lift");
    // The overall 客单价 beside the split, then how far returning customers are above new.
    const whole = isNum(overall) ? `全场 ${fmtYuan(overall)}` : "";
    if (isNum(returning) && isNum(fresh) && fresh > 0) {
      const lift = (returning - fresh) / fresh;
      setText(liftEl, `${whole ? `${whole} · ` : ""}老客${lift >= 0 ? "高" : "低"} ${fmtPct(Math.abs(lift))}`);
      liftEl.className = `kpi-sub ${lift >= 0 ? "up" : "down"}`;
    } else {
      setText(liftEl, whole);
    }
  }

  /** Show the delivery figure; returns its state, or null when the message had none. */
  delivery(delivery) {
    const tile = el("delivery");
    if (!tile || !delivery) return null;
    const p99 = delivery.ack_p99_ms;
    const budget = isNum(delivery.budget_ms) ? delivery.budget_ms : 2000;
    const errors = isNum(delivery.errors_1m) ? delivery.errors_1m : 0;
    const state = deliveryState(p99, budget, errors);
    tile.dataset.state = state;
    setText(el("delivery-p99"), isNum(p99) ? fmtMs(p99) : "—");
    const failing = errors > 0 ? ` · 5xx ${fmtInt(errors)} 次` : "";
    setText(el("delivery-sub"), `${DELIVERY_STATES[state]} · 预算 ${fmtMs(budget)}${failing}`);
    return { state, p99, budget, errors };
  }

  /** One line per platform; returns the names of those over their own budget. */
  platforms(platforms) {
    const line = el("delivery-platforms");
    if (!line || !platforms) return [];
    const parts = Object.entries(platforms).map(([name, f]) => {
      const p99 = isNum(f.ack_p99_ms) ? fmtMs(f.ack_p99_ms) : "—";
      return `${platformName(name)} ${p99}/${fmtMs(f.budget_ms)}${f.over_budget ? " 超预算" : ""}`;
    });
    setText(line, parts.join("\n"));
    const over = Object.entries(platforms).filter(([, f]) => f.over_budget).map(([name]) => platformName(name));
    line.dataset.over = String(over.length > 0);
    return over;
  }
}
