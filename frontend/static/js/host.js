// Host teleprompter: greetings queue, hints, countdowns and the current product.
// Greetings are dismissed locally (space / tap); the dismissed ids survive reconnects and
// reloads so nothing the host already said comes back.
import { getJSON } from "./api.js";
import { bindStatus, openChannel } from "./channel.js";
import { describe, phaseOf } from "./countdown.js";
import { CAMPAIGN_KIND_LABELS, $, fmtInt, fmtMoney, fmtMoneyBrief, fmtTime, h, isNum, pageData, replace, toast } from "./dom.js";
import { loginBanner } from "./session.js";

const MAX_QUEUE = 60;
const MAX_DONE_REMEMBERED = 500;
const NEXT_SHOWN = 2;
const HINTS_SHOWN = 4;
const COUNTDOWNS_SHOWN = 3;
const ENDED_VISIBLE_MS = 8000;
const FINISHED = new Set(["ended", "expired", "resolved", "dismissed"]);
const LOW_STOCK = 10;
// The host's channel carries no viewer counts (they change every second and would only
// distract); the headline number is refreshed from the rooms list this often.
const VIEWERS_POLL_MS = 15000;

const { roomId } = pageData();
const channel = openChannel(roomId, { contiguous: false });
const now = () => channel.now();

// ---- state ----------------------------------------------------------------------------------

const doneKey = `livedesk:host:done:${roomId}`;
const done = new Set(loadDone());
const undoStack = [];
let queue = [];
const hints = new Map();
const countdowns = new Map();
let product = null;

function loadDone() {
  try {
    const raw = JSON.parse(sessionStorage.getItem(doneKey) ?? "[]");
    return Array.isArray(raw) ? raw.slice(-MAX_DONE_REMEMBERED) : [];
  } catch {
    return [];
  }
}

function rememberDone(id) {
  if (id === undefined || id === null) return;
  done.delete(id);
  done.add(id);
  while (done.size > MAX_DONE_REMEMBERED) done.delete(done.values().next().value);
  try {
    sessionStorage.setItem(doneKey, JSON.stringify([...done]));
  } catch {
    // Private mode or quota: the in-memory set still covers reconnects.
  }
}

// ---- greetings ------------------------------------------------------------------------------

function addGreeting(greeting) {
  if (!greeting || done.has(greeting.id)) return;
  const index = queue.findIndex((item) => item.id === greeting.id);
  if (index >= 0) queue[index] = greeting; // an update (more names merged in)
  else queue.push(greeting);
  if (queue.length > MAX_QUEUE) queue = queue.slice(queue.length - MAX_QUEUE);
}

function finishCurrent() {
  const current = queue.shift();
  if (!current) return;
  rememberDone(current.id);
  undoStack.push(current);
  if (undoStack.length > 20) undoStack.shift();
  renderGreetings();
}

function undoFinish() {
  const last = undoStack.pop();
  if (!last) return;
  done.delete(last.id);
  queue.unshift(last);
  renderGreetings();
}

const currentEl = $('[data-testid="greeting-current"]');
const nextEl = $('[data-testid="greeting-next"]');
const countEl = $('[data-testid="greeting-count"]');
let renderedCurrentKey = null;

function renderGreetings() {
  const current = queue[0];
  const key = current ? JSON.stringify(current) : "";
  if (key !== renderedCurrentKey) {
    renderedCurrentKey = key;
    currentEl.classList.toggle("is-empty", !current);
    currentEl.classList.toggle("is-vip", Boolean(current?.vip));
    if (!current) {
      delete currentEl.dataset.greetingId;
      replace(currentEl, h("span", { class: "greeting-empty", text: "暂无需要欢迎的老朋友" }));
    } else {
      currentEl.dataset.greetingId = String(current.id ?? "");
      const merged = Array.isArray(current.merged_names) ? current.merged_names.filter(Boolean) : [];
      const mergedCount = isNum(current.merged_count) ? current.merged_count : merged.length;
      replace(
        currentEl,
        h(
          "span",
          { class: "greeting-who" },
          current.tier_label ? h("span", { class: "tier", text: current.tier_label }) : null,
          h("span", { class: "name", testid: "greeting-name", text: current.nickname ?? "" }),
        ),
        h("span", { class: "greeting-line", testid: "greeting-text", text: current.text ?? "" }),
        merged.length
          ? h("span", {
              class: "greeting-merged",
              text: `一起欢迎：${merged.slice(0, 6).join("、")}${mergedCount > 6 ? ` 等 ${mergedCount} 位` : ""}`,
            })
          : null,
      );
    }
  }
  replace(
    nextEl,
    queue.slice(1, 1 + NEXT_SHOWN).map((item) =>
      h(
        "li",
        { testid: "greeting-next-item", dataset: { greetingId: String(item.id ?? "") } },
        item.tier_label ? h("span", { class: "tier", text: item.tier_label }) : null,
        h("span", { class: "name", text: item.nickname ?? "" }),
        h("span", { class: "line", text: item.text ?? "" }),
      ),
    ),
  );
  const rest = queue.length - 1 - NEXT_SHOWN;
  countEl.textContent = queue.length ? (rest > 0 ? `后面还有 ${rest} 位` : "") : "";
}

// ---- hints ----------------------------------------------------------------------------------

const hintListEl = $('[data-testid="hint-list"]');
const hintsBoxEl = hintListEl.closest(".hints");
const hintMoreEl = $('[data-testid="hint-more"]');

function upsertHint(hint) {
  if (!hint || hint.id === undefined) return;
  if (FINISHED.has(hint.state)) hints.delete(hint.id);
  else hints.set(hint.id, { ...hint, receivedAt: Date.now() });
}

function liveHints() {
  const t = now();
  for (const [id, hint] of hints) {
    const expiresMs = Date.parse(hint.expires_at ?? "");
    if (!hint.pinned && Number.isFinite(expiresMs) && expiresMs <= t) hints.delete(id);
  }
  return [...hints.values()].sort(
    (a, b) =>
      (a.priority ?? 3) - (b.priority ?? 3) ||
      Number(Boolean(b.pinned)) - Number(Boolean(a.pinned)) ||
      b.receivedAt - a.receivedAt,
  );
}

let renderedHintsKey = null;

function renderHints() {
  const shown = liveHints().slice(0, HINTS_SHOWN);
  const key = shown.map((hint) => `${hint.id}:${hint.priority}:${hint.text}:${hint.pinned}`).join("|");
  if (key === renderedHintsKey) {
    fitHints();
    return;
  }
  renderedHintsKey = key;
  if (!shown.length) {
    replace(hintListEl, h("li", { class: "hint-empty", text: "暂无提示" }));
    fitHints();
    return;
  }
  replace(
    hintListEl,
    shown.map((hint) => {
      const priority = [1, 2, 3].includes(hint.priority) ? hint.priority : 3;
      return h(
        "li",
        { class: `hint p${priority}`, testid: "hint", dataset: { hintId: String(hint.id), priority: String(priority) } },
        hint.pinned ? h("span", { class: "pin", text: "置顶" }) : null,
        hint.text ?? "",
      );
    }),
  );
  fitHints();
}

/** Hide the lowest-priority hints that do not fit whole (countdowns above take the room). */
function fitHints() {
  const items = [...hintListEl.querySelectorAll("li.hint")];
  for (const item of items) item.classList.remove("hidden");
  let hidden = 0;
  while (hidden < items.length - 1 && hintsBoxEl.scrollHeight > hintsBoxEl.clientHeight + 1) {
    hidden += 1;
    items[items.length - hidden].classList.add("hidden");
  }
  const more = hidden + Math.max(0, liveHints().length - HINTS_SHOWN);
  if (hintMoreEl) hintMoreEl.textContent = more > 0 ? `另有 ${more} 条` : "";
}

// ---- countdowns (red packets and coupons) ---------------------------------------------------

function upsertCountdown(kind, data) {
  const id = kind === "coupon" ? data.drop_id : data.campaign_id;
  if (id === undefined || id === null) return;
  const key = `${kind}:${id}`;
  const entry = { ...countdowns.get(key), ...data, source: kind, key };
  if (FINISHED.has(entry.state)) entry.endedAt = entry.endedAt ?? Date.now();
  else delete entry.endedAt;
  countdowns.set(key, entry);
}

function couponValue(c) {
  const threshold = isNum(c.threshold_cents) && c.threshold_cents > 0 ? `满${fmtMoneyBrief(c.threshold_cents)}` : "";
  if (isNum(c.value_cents)) return threshold ? `${threshold}减${fmtMoneyBrief(c.value_cents)}` : `立减${fmtMoneyBrief(c.value_cents)}`;
  if (isNum(c.discount_pct)) return `${threshold}优惠 ${c.discount_pct}%`;
  return "";
}

const PHASE_ORDER = { announced: 0, running: 1, paused: 2, ended: 3 };

function countdownNode(entry, minor) {
  const view = describe(entry, now());
  const { phase } = view;
  const isCoupon = entry.source === "coupon";
  const kindLabel = isCoupon ? "优惠券" : CAMPAIGN_KIND_LABELS[entry.kind] ?? "红包";
  const name = entry.title && entry.title !== kindLabel ? `${kindLabel}「${entry.title}」` : kindLabel;
  const small = minor || view.calm;
  const head = h("div", { class: "countdown-head" }, name, view.status ? h("span", { class: "countdown-status", text: ` ${view.status}` }) : null);
  const clock = view.clock
    ? h(
        "div",
        { class: "countdown-clock" },
        view.clock.before,
        h("span", { class: "countdown-secs num", testid: "countdown-secs", text: view.clock.value }),
        view.clock.after,
      )
    : null;
  // A small card keeps its clock on the name's line; the big one gives the number a line.
  if (clock && small) head.append(view.status ? " · " : " ", ...clock.childNodes);

  const meta = [];
  if (isCoupon) {
    const value = couponValue(entry);
    if (value) meta.push(value);
    if (isNum(entry.quantity)) meta.push(`已领 ${fmtInt(entry.claimed ?? 0)} / ${fmtInt(entry.quantity)}`);
  } else if (isNum(entry.quantity) && phase !== "announced") {
    meta.push(`已发 ${fmtInt(entry.granted ?? 0)} / ${fmtInt(entry.quantity)}`);
  }
  return h(
    "div",
    {
      class: `countdown kind-${isCoupon ? "coupon" : "red-packet"} state-${phase}${small ? " is-minor" : ""}${view.calm ? " is-calm" : ""}`,
      testid: minor ? "countdown-minor" : "countdown",
      dataset: { key: entry.key, phase },
    },
    head,
    clock && !small ? clock : null,
    entry.passphrase && phase !== "ended"
      ? h("div", { class: "countdown-pass", testid: "countdown-passphrase" }, h("small", { text: "口令" }), entry.passphrase)
      : null,
    meta.length ? h("div", { class: "countdown-meta", text: meta.join(" · ") }) : null,
  );
}

const countdownListEl = $('[data-testid="countdown-list"]');

function renderCountdowns() {
  const t = Date.now();
  for (const [key, entry] of countdowns) {
    if (entry.endedAt && t - entry.endedAt > ENDED_VISIBLE_MS) countdowns.delete(key);
  }
  const nowMs = now();
  // Short windows first (what the host must say now), all-day campaigns after them.
  const rank = (entry) => PHASE_ORDER[phaseOf(entry, nowMs)] + (describe(entry, nowMs).calm ? 10 : 0);
  const entries = [...countdowns.values()].sort((a, b) => {
    const pa = rank(a);
    const pb = rank(b);
    if (pa !== pb) return pa - pb;
    const at = Date.parse((pa % 10 === 0 ? a.starts_at : a.ends_at) ?? "") || Infinity;
    const bt = Date.parse((pb % 10 === 0 ? b.starts_at : b.ends_at) ?? "") || Infinity;
    return at - bt;
  });
  replace(countdownListEl, entries.slice(0, COUNTDOWNS_SHOWN).map((entry, i) => countdownNode(entry, i > 0)));
}

// ---- product, viewers, promotion ------------------------------------------------------------

const productEl = $('[data-testid="product-card"]');

function renderProduct() {
  productEl.classList.toggle("is-empty", !product);
  if (!product) {
    replace(productEl, "当前未讲解商品");
    return;
  }
  const stock = product.stock_left;
  const points = Array.isArray(product.talking_points) ? product.talking_points.filter(Boolean) : [];
  replace(
    productEl,
    h(
      "div",
      {},
      h("div", { class: "product-name", testid: "product-name", text: product.name ?? product.sku ?? "" }),
      h(
        "div",
        { class: "product-price" },
        h("span", { class: "price num", text: fmtMoney(product.price_cents) }),
        isNum(stock)
          ? h("span", {
              class: `stock num${stock <= LOW_STOCK ? " low" : ""}`,
              testid: "product-stock",
              text: stock <= 0 ? "已售罄" : `库存 ${fmtInt(stock)} 件${stock <= LOW_STOCK ? "，快没了！" : ""}`,
            })
          : null,
      ),
    ),
    h("ul", { class: "talking-points" }, points.slice(0, 6).map((point) => h("li", { text: point }))),
  );
}

const viewersEl = $('[data-testid="viewers"]');
const promoEl = $('[data-testid="promotion-state"]');

function setViewers(value) {
  if (isNum(value)) viewersEl.textContent = `在线 ${fmtInt(value)}`;
}

function setPromotion(data) {
  const paused = data?.state === "paused";
  promoEl.classList.toggle("hidden", !paused);
  promoEl.textContent = paused ? `自动发放已暂停${data.by ? `（${data.by}）` : ""}` : "";
}

// ---- channel wiring -------------------------------------------------------------------------

channel.on("snapshot", (snap) => {
  queue = [];
  (snap.greetings ?? []).forEach(addGreeting);
  hints.clear();
  (snap.hints ?? []).forEach(upsertHint);
  countdowns.clear();
  (snap.campaigns ?? []).forEach((c) => upsertCountdown("red_packet", c));
  (snap.coupons ?? []).forEach((c) => upsertCountdown("coupon", c));
  product = snap.product ?? null;
  setViewers(snap.viewers_now ?? snap.kpi?.viewers_now);
  setPromotion(snap.promotion);
  renderAll();
});
channel.on("greeting", (data) => {
  addGreeting(data);
  renderGreetings();
});
channel.on("greeting_done", (data) => {
  rememberDone(data.id);
  queue = queue.filter((item) => item.id !== data.id);
  renderGreetings();
});
channel.on("hint", (data) => {
  upsertHint(data);
  renderHints();
});
channel.on("hint_dismissed", (data) => {
  hints.delete(data.id);
  renderHints();
});
channel.on("red_packet", (data) => {
  upsertCountdown("red_packet", data);
  renderCountdowns();
});
channel.on("coupon", (data) => {
  upsertCountdown("coupon", data);
  renderCountdowns();
});
channel.on("product", (data) => {
  product = data && Object.keys(data).length ? data : null;
  renderProduct();
});
channel.on("viewers", (data) => setViewers(data.viewers_now));
channel.on("kpi", (data) => setViewers(data.viewers_now));
channel.on("promotion", setPromotion);
channel.on("error", (data) => toast(data.reason ?? "实时通道出错", "error"));
channel.on("denied", () => loginBanner());

function renderAll() {
  renderGreetings();
  renderHints();
  renderCountdowns();
  renderProduct();
}

// ---- input: space / tap / clicker = done, ← = undo ----------------------------------------------------

document.addEventListener("keydown", (event) => {
  if (event.target instanceof HTMLElement && event.target.closest("input, textarea, select")) return;
  // Presentation clickers send PageDown / PageUp (or the arrows).
  if ([" ", "Enter", "PageDown", "ArrowRight"].includes(event.key) || event.code === "Space") {
    event.preventDefault(); // also stops the focused button from firing a second click
    if (!event.repeat) finishCurrent();
  } else if (["ArrowLeft", "PageUp", "Backspace"].includes(event.key)) {
    event.preventDefault();
    undoFinish();
  }
});
currentEl.addEventListener("click", (event) => {
  // Keyboard "clicks" on the focused button are handled by keydown above.
  if (event.detail === 0) return;
  finishCurrent();
});

// ---- clocks ---------------------------------------------------------------------------------

const clockEl = $('[data-testid="clock"]');

function tick() {
  clockEl.textContent = fmtTime(now());
  renderCountdowns();
  renderHints();
}

async function refreshViewers() {
  try {
    const rooms = await getJSON("/api/v1/rooms");
    const room = Array.isArray(rooms) ? rooms.find((r) => r.room_id === roomId) : null;
    if (room) setViewers(room.viewers_now);
  } catch {
    // Offline or signed out: the channel's status shows that; keep the last number.
  }
}

bindStatus(channel, $('[data-testid="conn-status"]'));
renderAll();
tick();
setInterval(tick, 250);
channel.start();
setInterval(refreshViewers, VIEWERS_POLL_MS);
