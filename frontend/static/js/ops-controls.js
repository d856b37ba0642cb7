// Ops controls: coupons, red packets, hints, pausing automatic drops. Money actions go through
// our own confirmation dialog; each confirmed click gets one Idempotency-Key.
import { getJSON, newIdempotencyKey, postJSON, roomApi } from "./api.js";
import { AUDIENCE_LABELS, CAMPAIGN_KIND_LABELS, $, confirmDialog, fmtMoney, fmtMoneyBrief, h, toast } from "./dom.js";

class InvalidField extends Error {}

function fieldLabel(input) {
  const label = input.closest("label");
  return label ? label.firstChild.textContent.trim() : input.name;
}

function intField(form, name, { min = 1, max = 10_000_000, optional = false } = {}) {
  const input = form.elements.namedItem(name);
  const raw = String(input.value ?? "").trim();
  if (!raw && optional) return null;
  if (!/^\d+$/.test(raw)) throw new InvalidField(`「${fieldLabel(input)}」需要整数`);
  const value = Number(raw);
  if (value < min || value > max) throw new InvalidField(`「${fieldLabel(input)}」需在 ${min}–${max} 之间`);
  return value;
}

/** Yuan typed by a person -> integer cents, exactly (no float drift). */
export function yuanToCents(text) {
  const match = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(String(text ?? "").trim());
  if (!match) return null;
  return Number(match[1]) * 100 + Number((match[2] ?? "").padEnd(2, "0"));
}

function yuanField(form, name, { allowZero = false } = {}) {
  const input = form.elements.namedItem(name);
  const cents = yuanToCents(input.value);
  if (cents === null || (!allowZero && cents === 0)) {
    throw new InvalidField(`「${fieldLabel(input)}」需要金额，如 20 或 9.90`);
  }
  return cents;
}

function textField(form, name, { required = false } = {}) {
  const input = form.elements.namedItem(name);
  const value = String(input.value ?? "").trim();
  if (required && !value) throw new InvalidField(`请填写「${fieldLabel(input)}」`);
  return value;
}

/** Show only the fields whose data-when="name=value" matches the form's current values. */
function syncConditionalFields(form) {
  for (const field of form.querySelectorAll("[data-when]")) {
    const [name, value] = field.dataset.when.split("=");
    field.classList.toggle("hidden", form.elements.namedItem(name)?.value !== value);
  }
}

function summary(lines, extra = null) {
  return h("div", { class: "confirm-summary", testid: "confirm-summary" }, lines.filter(Boolean).map((line) => h("p", { text: line })), extra);
}

function durationText(seconds) {
  if (seconds % 60 === 0 && seconds >= 60) return `${seconds / 60} 分钟`;
  return `${seconds} 秒`;
}

export function couponPayload(form) {
  const audience = form.elements.namedItem("audience").value;
  const payload = {
    title: textField(form, "title", { required: true }),
    audience,
    threshold_cents: yuanField(form, "threshold_yuan", { allowZero: true }),
    quantity: intField(form, "quantity", { max: 1_000_000 }),
    duration_s: intField(form, "duration_s", { min: 10, max: 86_400 }),
  };
  if (audience === "tier") payload.min_tier = textField(form, "min_tier", { required: true });
  if (audience === "segment") payload.segment = textField(form, "segment", { required: true });
  if (audience === "churn") payload.churn_risk = textField(form, "churn_risk", { required: true });
  if (form.elements.namedItem("mode").value === "pct") {
    payload.discount_pct = intField(form, "discount_pct", { min: 1, max: 99 });
  } else {
    payload.value_cents = yuanField(form, "value_yuan");
  }
  return payload;
}

// Tier and segment ids → the labels ops know them by (黄金, 沉默…), from the rules.
const audienceLabels = new Map();

/** Fill the tier and segment choices from the rules (GET /api/v1/customers/audiences). */
async function loadAudiences(form) {
  try {
    const { tiers = [], segments = [], churn = [] } = await getJSON("/api/v1/customers/audiences");
    for (const [name, items] of [["min_tier", tiers], ["segment", segments], ["churn_risk", churn]]) {
      const select = form.elements.namedItem(name);
      select.replaceChildren(...items.map((item) => h("option", { value: item.id, text: item.label })));
      for (const item of items) audienceLabels.set(`${name}:${item.id}`, item.label);
    }
  } catch (err) {
    toast(`会员等级加载失败：${err.message}`, "error");
  }
}

function couponSummary(p, paused) {
  const audience = AUDIENCE_LABELS[p.audience] ?? p.audience;
  const named = (name, id) => audienceLabels.get(`${name}:${id}`) ?? id;
  const who =
    p.audience === "tier"
      ? `${audience}（${named("min_tier", p.min_tier)}）`
      : p.audience === "segment"
        ? `${audience}（${named("segment", p.segment)}）`
        : p.audience === "churn"
          ? `${audience}（${named("churn_risk", p.churn_risk)}）`
          : audience;
  const value =
    p.value_cents !== undefined
      ? `${p.threshold_cents ? `满${fmtMoneyBrief(p.threshold_cents)}` : "无门槛"}减${fmtMoneyBrief(p.value_cents)}`
      : `${p.threshold_cents ? `满${fmtMoneyBrief(p.threshold_cents)}` : "无门槛"}优惠 ${p.discount_pct}%`;
  return summary([
    `向「${who}」发放 ${p.quantity} 张「${p.title}」：${value}。`,
    `有效 ${durationText(p.duration_s)}。`,
    p.value_cents !== undefined ? `全部核销时最高成本 ${fmtMoney(p.value_cents * p.quantity)}。` : "折扣券成本取决于订单金额。",
  ], pausedWarning(paused));
}

export function redPacketPayload(form) {
  const kind = form.elements.namedItem("kind").value;
  const payload = {
    kind,
    title: textField(form, "title") || CAMPAIGN_KIND_LABELS[kind] || "红包",
    budget_cents: yuanField(form, "budget_yuan"),
    quantity: intField(form, "quantity", { max: 1_000_000 }),
    countdown_s: intField(form, "countdown_s", { min: 0, max: 3600 }),
    duration_s: intField(form, "duration_s", { min: 5, max: 86_400 }),
  };
  const passphrase = textField(form, "passphrase", { required: kind === "rain" });
  if (passphrase) payload.passphrase = passphrase;
  if (payload.budget_cents < payload.quantity) throw new InvalidField("预算不足：每个红包至少 0.01 元");
  return payload;
}

function redPacketSummary(p, paused) {
  return summary([
    `${CAMPAIGN_KIND_LABELS[p.kind] ?? p.kind}「${p.title}」：总预算 ${fmtMoney(p.budget_cents)}，共 ${p.quantity} 个。`,
    `${p.countdown_s ? `${p.countdown_s} 秒后开始` : "立即开始"}，持续 ${durationText(p.duration_s)}。`,
    p.passphrase ? `口令：${p.passphrase}` : null,
  ], pausedWarning(paused));
}

/** Run one action: optional confirmation, then one POST with one idempotency key.
 * Resolves to the answer's body, or null when cancelled or refused. */
async function act(button, { confirm, path, body, success }) {
  if (confirm) {
    const ok = await confirmDialog(confirm);
    if (!ok) return null;
  }
  const key = newIdempotencyKey(); // made after the click is confirmed, reused only for retries
  button.disabled = true;
  try {
    const answer = await postJSON(path, body, { idempotencyKey: key });
    const pending = answer?.state === "pending_approval";
    toast(pending ? "已提交：超过审批额度，需另一位运营在「活动」里批准后才会发放" : success, pending ? "warn" : "ok", pending ? 10000 : 5000);
    return answer;
  } catch (err) {
    toast(err.message, "error", 8000);
    return null;
  } finally {
    button.disabled = false;
  }
}

/** Stop every drop in the room now: no confirmation, stopping spending must be instant. */
export function pausePromotions(roomId, button) {
  return act(button, { path: `${roomApi(roomId)}/promotions/pause`, body: {}, success: "已暂停本直播间全部红包和优惠券发放" });
}

/** The confirm dialog's warning when the room's drops are paused: a new drop waits too. */
function pausedWarning(paused) {
  if (!paused) return null;
  return h("p", { class: "warn-text", testid: "confirm-paused-warning", text: "注意：本直播间发放已暂停。创建后不会发放，直到在「暂停发放」里恢复。" });
}

function guard(fn) {
  return (event) => {
    event.preventDefault();
    try {
      fn(event);
    } catch (err) {
      if (err instanceof InvalidField) toast(err.message, "error");
      else throw err;
    }
  };
}

/** Switch the controls card to one tab (a click, or a number key on the keyboard). */
export function showTab(name) {
  const tabs = [...document.querySelectorAll(".tab[data-tab]")];
  if (!tabs.some((tab) => tab.dataset.tab === name)) return;
  for (const tab of tabs) {
    tab.classList.toggle("is-active", tab.dataset.tab === name);
    tab.setAttribute("aria-selected", String(tab.dataset.tab === name));
  }
  for (const panel of document.querySelectorAll(".tab-panel")) panel.classList.toggle("hidden", panel.dataset.panel !== name);
}

/** @param {{isPaused: () => boolean, onCreated: (campaign: object) => void}} hooks */
export function setupControls(roomId, { isPaused, onCreated }) {
  const api = roomApi(roomId);

  for (const tab of document.querySelectorAll(".tab[data-tab]")) {
    tab.addEventListener("click", () => showTab(tab.dataset.tab));
  }

  const couponForm = $('[data-testid="form-coupon"]');
  const redForm = $('[data-testid="form-red-packet"]');
  const hintForm = $('[data-testid="form-hint"]');
  for (const form of [couponForm, redForm]) {
    form.addEventListener("change", () => syncConditionalFields(form));
    syncConditionalFields(form);
  }
  loadAudiences(couponForm);

  couponForm.addEventListener(
    "submit",
    guard(() => {
      const body = couponPayload(couponForm);
      act($('[data-testid="btn-drop-coupon"]'), {
        confirm: { title: "确认发放优惠券", body: couponSummary(body, isPaused()), okText: "确认发放", danger: true },
        path: `${api}/coupons`,
        body,
        success: `优惠券「${body.title}」已发放`,
      }).then((answer) => answer && onCreated(answer));
    }),
  );

  redForm.addEventListener(
    "submit",
    guard(() => {
      const body = redPacketPayload(redForm);
      act($('[data-testid="btn-start-red-packet"]'), {
        confirm: { title: "确认发红包", body: redPacketSummary(body, isPaused()), okText: "确认发红包", danger: true },
        path: `${api}/red-packets`,
        body,
        success: `红包「${body.title}」已创建`,
      }).then((answer) => answer && onCreated(answer));
    }),
  );

  hintForm.addEventListener(
    "submit",
    guard(() => {
      const body = { text: textField(hintForm, "text", { required: true }), priority: Number(hintForm.elements.namedItem("priority").value) };
      act($('[data-testid="btn-push-hint"]'), { path: `${api}/hints`, body, success: "提示已推送给主播" }).then((sent) => {
        if (sent) hintForm.elements.namedItem("text").value = "";
      });
    }),
  );

  // Stopping spending must be instant; starting it again is a money action and is confirmed.
  const pauseBtn = $('[data-testid="btn-pause-promotions"]');
  pauseBtn.addEventListener("click", () => pausePromotions(roomId, pauseBtn));
  const resumeBtn = $('[data-testid="btn-resume-promotions"]');
  resumeBtn.addEventListener("click", () =>
    act(resumeBtn, {
      confirm: {
        title: "恢复发放",
        body: summary(["恢复后，未结束的红包和优惠券（规则自动发的和手动发的）会继续发放。"]),
        okText: "确认恢复",
        danger: true,
      },
      path: `${api}/promotions/resume`,
      body: {},
      success: "已恢复发放",
    }),
  );
}
