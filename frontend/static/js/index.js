// Rooms overview: live rooms first, with headline KPIs, refreshed every few seconds.
import { getJSON } from "./api.js";
import { $, fmtAgo, fmtDateTime, fmtInt, fmtTime, fmtMoneyShort, fmtPct, h, pageData, replace } from "./dom.js";
import { SESSION_LABELS, fmtElapsed } from "./show.js";
import { viewersFigure } from "./viewers.js";

const REFRESH_MS = 5000;
const { role } = pageData();
const listEl = $('[data-testid="room-list"]');
const updatedEl = $('[data-testid="rooms-updated"]');

function links(roomId) {
  const id = encodeURIComponent(roomId);
  const out = [h("a", { class: "btn", href: `/host/${id}`, testid: "link-host", text: "提词器" })];
  if (role === "ops" || role === "admin") {
    out.push(h("a", { class: "btn btn-primary", href: `/ops/${id}`, testid: "link-ops", text: "中控台" }));
    out.push(h("a", { class: "btn", href: `/rooms/${id}/report`, testid: "link-report", text: "复盘" }));
  }
  return out;
}

function stat(label, value, title = "") {
  return h("div", { class: "room-stat", title }, h("span", { class: "label", text: label }), h("span", { class: "value num", text: value }));
}

function viewersStat(room) {
  const figure = viewersFigure(room.viewers_now, room.viewers_estimated);
  return stat(figure.estimated ? "在线 (估算)" : "在线", figure.number, figure.title);
}

const stateOf = (room) => room.session?.state ?? "not_started";

/** When the newest session started (and ended, with its length). */
function sessionLine(session) {
  if (!session?.started_at) return "";
  const started = `${fmtDateTime(session.started_at)} 开播`;
  if (!session.ended_at) return started;
  const length = Date.parse(session.ended_at) - Date.parse(session.started_at);
  return `${started} · 时长 ${fmtElapsed(length)}`;
}

function roomCard(room) {
  const state = stateOf(room);
  const live = state === "live";
  return h(
    "article",
    { class: `card room${live ? " is-live" : ""}`, testid: "room-card", dataset: { roomId: String(room.room_id ?? "") } },
    h(
      "div",
      { class: "room-head" },
      h("span", { class: `badge ${live ? "badge-live" : ""}`, testid: "room-state", dataset: { state }, text: SESSION_LABELS[state] }),
      h("h2", { class: "room-title", text: room.title || room.room_id || "" }),
      // The id beside the title only when the room has a title of its own.
      room.title && room.title !== room.room_id ? h("span", { class: "muted room-id", text: room.room_id ?? "" }) : null,
    ),
    h(
      "div",
      { class: "room-stats" },
      viewersStat(room),
      stat("老客占比", fmtPct(room.returning_share)),
      stat("GMV", fmtMoneyShort(room.gmv_cents)),
      stat("订单", fmtInt(room.orders)),
    ),
    h("div", { class: "room-session muted", testid: "room-session", text: sessionLine(room.session) }),
    h("div", { class: "room-foot" }, h("span", { class: "muted", text: `最近事件 ${fmtAgo(room.last_event_at)}` }), h("span", { class: "spacer" }), links(room.room_id ?? "")),
  );
}

async function refresh() {
  try {
    const rooms = await getJSON("/api/v1/rooms");
    const list = Array.isArray(rooms) ? rooms : [];
    list.sort((a, b) => Number(stateOf(b) === "live") - Number(stateOf(a) === "live"));
    if (!list.length) replace(listEl, h("p", { class: "muted", text: "还没有直播间。平台推送第一条事件后，直播间会自动出现在这里。" }));
    else replace(listEl, list.map(roomCard));
    updatedEl.textContent = `更新于 ${fmtTime(Date.now())}`;
  } catch (err) {
    updatedEl.textContent = `刷新失败：${err.message}`;
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
