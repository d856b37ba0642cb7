// Host teleprompter: greetings queue, hints, countdowns and the current product.
// Greetings are dismissed locally (space / tap); the dismissed ids survive reconnects and
// reloads so nothing the host already said comes back. A greeting nobody read within a few
// minutes is dropped: the person it welcomes arrived long ago.
import { bindStatus, openChannel } from "./channel.js";
import { $, fmtInt, fmtMoney, fmtTime, h, isNum, pageData, replace, stored, toast } from "./dom.js";
import { Countdowns } from "./host-countdowns.js";
import { HintBoard } from "./host-hints.js";
import { loginBanner } from "./session.js";
import { OnAirTimer, productLine, rundownFocus } from "./show.js";
import { bindShortcuts, showShortcuts } from "./shortcuts.js";
import { viewersLine } from "./viewers.js";

const MAX_QUEUE = 60;
const MAX_DONE_REMEMBERED = 500;
const NEXT_SHOWN = 2;
const GREETING_MAX_AGE_MS = 5 * 60_000;
const LOW_STOCK = 10;

const { roomId } = pageData();
const channel = openChannel(roomId, { contiguous: false });
const now = () => channel.now();
const msgTime = (msg) => {
  const ms = Date.parse(msg?.ts ?? "");
  return Number.isFinite(ms) ? ms : now();
};

// ---- state ----------------------------------------------------------------------------------

const doneKey = `livedesk:host:done:${roomId}`;
const done = new Set(loadDone());
const undoStack = [];
let queue = [];
let product = null;
let rundown = null;

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

function addGreeting(greeting, atMs) {
  if (!greeting || done.has(greeting.id)) return;
  const index = queue.findIndex((item) => item.id === greeting.id);
  if (index >= 0) queue[index] = { ...greeting, atMs: queue[index].atMs }; // more names merged in
  else queue.push({ ...greeting, atMs });
  if (queue.length > MAX_QUEUE) queue = queue.slice(queue.length - MAX_QUEUE);
}

/** Drop greetings older than the age limit; true when any went. */
function ageGreetings() {
  const before = queue.length;
  const cutoff = now() - GREETING_MAX_AGE_MS;
  queue = queue.filter((item) => !(item.atMs < cutoff));
  return queue.length !== before;
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

// ---- hints and countdowns --------------------------------------------------------------------

const hints = new HintBoard({ roomId, listEl: $('[data-testid="hint-list"]'), moreEl: $('[data-testid="hint-more"]'), now });
const countdowns = new Countdowns($('[data-testid="countdown-list"]'), now);

// ---- product, viewers, promotion ------------------------------------------------------------

const productEl = $('[data-testid="product-card"]');

/** The rundown's next product under the card (排品 2/6 · 下一个 …), or nothing without one. */
function upNext() {
  const { next, position, total } = rundownFocus(rundown);
  if (!total) return null;
  return h(
    "div",
    { class: "product-next", testid: "product-next" },
    h("span", { class: "product-next-pos num", testid: "rundown-position", text: `排品 ${position}/${total}` }),
    next
      ? h("span", {}, "下一个 ", h("b", { testid: "product-next-name", text: productLine(next) }))
      : h("span", { class: "product-next-last", text: "这是最后一个" }),
  );
}

function renderProduct() {
  productEl.classList.toggle("is-empty", !product);
  if (!product) {
    replace(productEl, h("div", {}, h("div", { text: "当前未讲解商品" }), upNext()));
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
      upNext(),
    ),
    h("ul", { class: "talking-points" }, points.slice(0, 6).map((point) => h("li", { text: point }))),
  );
}

const viewersEl = $('[data-testid="viewers"]');
const timer = new OnAirTimer($('[data-testid="on-air-timer"]'), now);
const promoEl = $('[data-testid="promotion-state"]');

function setViewers(value, estimated) {
  if (!isNum(value)) return;
  const line = viewersLine(value, estimated);
  viewersEl.textContent = line.text;
  viewersEl.title = line.title;
}

function setPromotion(data) {
  const paused = data?.state === "paused";
  promoEl.classList.toggle("hidden", !paused);
  promoEl.textContent = paused ? "红包和优惠券已暂停发放" : "";
  countdowns.roomPaused = paused;
  countdowns.render();
}

// ---- channel wiring -------------------------------------------------------------------------

channel.on("snapshot", (snap, msg) => {
  queue = [];
  const atMs = msgTime(msg);
  (snap.greetings ?? []).forEach((g) => addGreeting(g, atMs));
  hints.clear();
  (snap.hints ?? []).forEach((hint) => hints.upsert(hint));
  countdowns.clear();
  (snap.campaigns ?? []).forEach((c) => countdowns.upsert("red_packet", c));
  (snap.coupons ?? []).forEach((c) => countdowns.upsert("coupon", c));
  product = snap.product ?? null;
  rundown = snap.rundown ?? null;
  timer.set(snap.session);
  setViewers(snap.viewers_now ?? snap.kpi?.viewers_now, snap.viewers_estimated ?? snap.kpi?.viewers_estimated);
  setPromotion(snap.promotion);
  renderAll();
});
channel.on("greeting", (data, msg) => {
  addGreeting(data, msgTime(msg));
  renderGreetings();
});
channel.on("greeting_done", (data) => {
  rememberDone(data.id);
  queue = queue.filter((item) => item.id !== data.id);
  renderGreetings();
});
channel.on("hint", (data) => {
  hints.upsert(data);
  hints.render();
});
channel.on("hint_dismissed", (data) => {
  hints.remove(data.id);
  hints.render();
});
channel.on("red_packet", (data) => {
  countdowns.upsert("red_packet", data);
  countdowns.render();
});
channel.on("coupon", (data) => {
  countdowns.upsert("coupon", data);
  countdowns.render();
});
channel.on("product", (data) => {
  product = data && Object.keys(data).length ? data : null;
  renderProduct();
});
channel.on("rundown", (data) => {
  rundown = data;
  renderProduct();
});
channel.on("session", (data) => timer.set(data));
channel.on("viewers", (data) => setViewers(data.viewers_now, data.viewers_estimated));
channel.on("promotion", setPromotion);
channel.on("error", (data) => toast(data.reason ?? "实时通道出错", "error"));
channel.on("denied", () => loginBanner());

function renderAll() {
  renderGreetings();
  hints.render();
  countdowns.render();
  renderProduct();
}

// ---- comfort: big text and full screen, kept per browser ---------------------------------------

const bigKey = "livedesk:host:big";
const bigBtn = $('[data-testid="btn-big-text"]');
const fullBtn = $('[data-testid="btn-fullscreen"]');

function setBig(big) {
  document.body.classList.toggle("is-big", big);
  bigBtn.setAttribute("aria-pressed", String(big));
  stored.set(bigKey, big);
  hints.renderedKey = null;
  renderAll();
}

function toggleFullscreen() {
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  else document.documentElement.requestFullscreen?.().catch(() => toast("浏览器不允许全屏，可按 F11", "error"));
}

document.addEventListener("fullscreenchange", () => fullBtn.setAttribute("aria-pressed", String(Boolean(document.fullscreenElement))));
bigBtn.addEventListener("click", () => setBig(!document.body.classList.contains("is-big")));
fullBtn.addEventListener("click", toggleFullscreen);

// ---- input: space / tap / clicker = done, ← = undo --------------------------------------------

// Presentation clickers send PageDown / PageUp (or the arrows).
const shortcuts = [
  { keys: [" ", "Enter", "PageDown", "ArrowRight"], label: "下一位（这位已欢迎）", run: finishCurrent },
  { keys: ["ArrowLeft", "PageUp", "Backspace"], label: "撤销，回到上一位", run: undoFinish },
  { keys: ["d"], label: "关闭最上面的提示", run: () => hints.dismiss() },
  { keys: ["b"], label: "大字模式：只留最要紧的，字更大", run: () => setBig(!document.body.classList.contains("is-big")) },
  { keys: ["f"], label: "全屏 / 退出全屏", run: toggleFullscreen },
  { keys: ["?"], label: "显示本列表", run: () => showShortcuts(shortcuts) },
];
bindShortcuts(shortcuts);
$('[data-testid="btn-shortcuts"]').addEventListener("click", () => showShortcuts(shortcuts));
currentEl.addEventListener("click", (event) => {
  // Keyboard "clicks" on the focused button are handled by the shortcuts.
  if (event.detail === 0) return;
  finishCurrent();
});

// ---- clocks ---------------------------------------------------------------------------------

const clockEl = $('[data-testid="clock"]');

function tick() {
  clockEl.textContent = fmtTime(now());
  timer.render();
  if (ageGreetings()) renderGreetings();
  countdowns.render();
  hints.render();
}

bindStatus(channel, $('[data-testid="conn-status"]'));
setBig(Boolean(stored.get(bigKey, false)));
tick();
setInterval(tick, 250);
channel.start();
