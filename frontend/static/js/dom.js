// Small DOM and formatting helpers shared by every panel.
// Every string from the outside world goes in as a text node or textContent, never as HTML:
// nicknames and danmaku are attacker-controlled.

/**
 * Build an element. props: class, text, testid, dataset, on<event> handlers, other attributes.
 * Children may be nodes or strings (strings become text nodes).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = String(value);
    else if (key === "testid") el.dataset.testid = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace all children of el. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

export function isNum(value) {
  return typeof value === "number" && Number.isFinite(value);
}

const moneyFormat = new Intl.NumberFormat("zh-CN", {
  style: "currency",
  currency: "CNY",
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
});
const intFormat = new Intl.NumberFormat("zh-CN", { maximumFractionDigits: 0 });

export function fmtMoney(cents) {
  return isNum(cents) ? moneyFormat.format(cents / 100) : "—";
}

/** ¥99 for whole yuan, ¥9.90 otherwise: for sentences such as 满¥99减¥20. */
export function fmtMoneyBrief(cents) {
  if (!isNum(cents)) return "—";
  return cents % 100 === 0 ? `¥${intFormat.format(cents / 100)}` : moneyFormat.format(cents / 100);
}

/** Money for a tile: ¥12.35万 above ten thousand yuan. */
export function fmtMoneyShort(cents) {
  if (!isNum(cents)) return "—";
  const yuan = cents / 100;
  if (Math.abs(yuan) >= 100000000) return `¥${(yuan / 100000000).toFixed(2)}亿`;
  if (Math.abs(yuan) >= 10000) return `¥${(yuan / 10000).toFixed(2)}万`;
  return moneyFormat.format(yuan);
}

/** Whole yuan, for tight tiles: ¥418 (cents rounded). */
export function fmtYuan(cents) {
  return isNum(cents) ? `¥${intFormat.format(Math.round(cents / 100))}` : "—";
}

export function fmtInt(value) {
  return isNum(value) ? intFormat.format(value) : "—";
}

export function fmtPct(ratio, digits = 1) {
  return isNum(ratio) ? `${(ratio * 100).toFixed(digits)}%` : "—";
}

// Sessions run on Beijing time (server: core/clock.CHINA_TZ); a laptop set to another zone
// must still show the times the host and the audience saw.
export const TIME_ZONE = "Asia/Shanghai";
const clockFormat = new Intl.DateTimeFormat("zh-CN", {
  timeZone: TIME_ZONE,
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});
const minuteFormat = new Intl.DateTimeFormat("zh-CN", { timeZone: TIME_ZONE, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const dateTimeFormat = new Intl.DateTimeFormat("zh-CN", {
  timeZone: TIME_ZONE,
  year: "numeric",
  month: "numeric",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});
const dayFormat = new Intl.DateTimeFormat("en-CA", { timeZone: TIME_ZONE }); // 2026-12-03

/** 13:05:09 in Beijing time. */
export function fmtTime(value) {
  const ms = typeof value === "number" ? value : Date.parse(value ?? "");
  if (!Number.isFinite(ms)) return "";
  return clockFormat.format(ms);
}

/** 13:05 in Beijing time. */
export function fmtClock(ms) {
  return Number.isFinite(ms) ? minuteFormat.format(ms) : "";
}

/** 2026/12/3 13:05:09 in Beijing time. */
export function fmtDateTime(value) {
  const ms = Date.parse(value ?? "");
  if (!Number.isFinite(ms)) return "—";
  return dateTimeFormat.format(ms);
}

/** Whole days from the Beijing calendar day of fromMs to that of toMs (0 = same day). */
export function daysApart(fromMs, toMs) {
  const day = (ms) => Date.parse(`${dayFormat.format(ms)}T00:00:00Z`);
  return Math.round((day(toMs) - day(fromMs)) / 86_400_000);
}

export function fmtAgo(value, nowMs = Date.now()) {
  const ms = Date.parse(value ?? "");
  if (!Number.isFinite(ms)) return "—";
  const s = Math.max(0, Math.round((nowMs - ms) / 1000));
  if (s < 60) return `${s} 秒前`;
  if (s < 3600) return `${Math.floor(s / 60)} 分钟前`;
  if (s < 86400) return `${Math.floor(s / 3600)} 小时前`;
  return `${Math.floor(s / 86400)} 天前`;
}

export const ROLE_LABELS = { host: "主播", ops: "运营", admin: "管理员" };

export const CAMPAIGN_KIND_LABELS = {
  tiered: "阶梯红包",
  rain: "红包雨",
  blind_box: "盲盒红包",
  points: "积分红包",
  referral: "邀请红包",
  coupon: "优惠券",
};

export const STATE_LABELS = {
  pending_approval: "待审批",
  announced: "即将开始",
  running: "进行中",
  ended: "已结束",
  paused: "已暂停",
  rejected: "已驳回",
  expired: "已过期",
  open: "未处理",
  resolved: "已恢复",
};

export const ORDER_STATUS_LABELS = {
  created: "待支付",
  pending: "待支付",
  paid: "已支付",
  shipped: "已发货",
  completed: "已完成",
  refunded: "已退款",
  cancelled: "已取消",
  canceled: "已取消",
};

export const SEVERITY_LABELS = { info: "提示", warning: "警告", critical: "严重" };

export const AUDIENCE_LABELS = {
  all: "全部观众",
  returning: "老客户",
  tier: "会员等级及以上",
  segment: "指定人群",
  churn: "流失预警客户",
};

/** A JSON value kept in localStorage (private mode or a full quota: the fallback). */
export const stored = {
  get(key, fallback) {
    try {
      const raw = localStorage.getItem(key);
      return raw === null ? fallback : JSON.parse(raw);
    } catch {
      return fallback;
    }
  },
  set(key, value) {
    try {
      localStorage.setItem(key, JSON.stringify(value));
    } catch {
      // Not kept across reloads; the page still works.
    }
  },
};

/** Read the page's JSON config from <body data-*>. */
export function pageData() {
  return { ...document.body.dataset };
}

// ---- toasts ---------------------------------------------------------------------------------

let toastBox = null;

export function toast(message, kind = "info", timeoutMs = 5000) {
  if (!toastBox) {
    toastBox = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(toastBox);
  }
  const item = h("div", { class: `toast toast-${kind}`, testid: "toast", text: message });
  toastBox.append(item);
  setTimeout(() => item.remove(), timeoutMs);
  return item;
}

// ---- modal dialogs --------------------------------------------------------------------------

/**
 * A modal of our own (window.confirm cannot be styled, tested or kept from blocking the page).
 * Resolves true on OK, false on cancel / Escape / backdrop click.
 */
export function confirmDialog({ title, body, okText = "确认", cancelText = "取消", danger = false }) {
  return new Promise((resolve) => {
    const previousFocus = document.activeElement;
    const ok = h("button", {
      type: "button",
      class: danger ? "btn btn-danger" : "btn btn-primary",
      testid: "confirm-ok",
      text: okText,
    });
    const cancel = h("button", { type: "button", class: "btn", testid: "confirm-cancel", text: cancelText });
    const dialog = h(
      "div",
      { class: "modal", role: "dialog", "aria-modal": "true", "aria-labelledby": "modal-title", testid: "confirm-dialog" },
      h("h2", { class: "modal-title", id: "modal-title", text: title }),
      h("div", { class: "modal-body" }, body ?? null),
      h("div", { class: "modal-actions" }, cancel, ok),
    );
    const backdrop = h("div", { class: "modal-backdrop" }, dialog);
    const close = (answer) => {
      document.removeEventListener("keydown", onKey, true);
      backdrop.remove();
      if (previousFocus && previousFocus.focus) previousFocus.focus();
      resolve(answer);
    };
    const onKey = (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        close(false);
      }
      event.stopPropagation(); // keep page shortcuts (space on the host page) out of the dialog
    };
    ok.addEventListener("click", () => close(true));
    cancel.addEventListener("click", () => close(false));
    backdrop.addEventListener("click", (event) => {
      if (event.target === backdrop) close(false);
    });
    document.addEventListener("keydown", onKey, true);
    document.body.append(backdrop);
    ok.focus();
  });
}

/** A modal with arbitrary content and a close button (customer card). Returns a close function. */
export function infoDialog({ title, body, testid = "info-dialog" }) {
  const closeBtn = h("button", { type: "button", class: "btn", testid: "dialog-close", text: "关闭" });
  const bodyBox = h("div", { class: "modal-body" }, body ?? null);
  const dialog = h(
    "div",
    { class: "modal modal-wide", role: "dialog", "aria-modal": "true", testid },
    h("h2", { class: "modal-title", text: title }),
    bodyBox,
    h("div", { class: "modal-actions" }, closeBtn),
  );
  const backdrop = h("div", { class: "modal-backdrop" }, dialog);
  const onKey = (event) => {
    if (event.key === "Escape") close();
  };
  function close() {
    document.removeEventListener("keydown", onKey, true);
    backdrop.remove();
  }
  closeBtn.addEventListener("click", close);
  backdrop.addEventListener("click", (event) => {
    if (event.target === backdrop) close();
  });
  document.addEventListener("keydown", onKey, true);
  document.body.append(backdrop);
  closeBtn.focus();
  return { close, body: bodyBox };
}
