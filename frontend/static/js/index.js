// Rooms overview: live rooms first, with headline KPIs, refreshed every few seconds.
import { getJSON } from "./api.js";
import { $, fmtAgo, fmtInt, fmtTime, fmtMoneyShort, fmtPct, h, pageData, replace } from "./dom.js";
import { viewersFigure } from "./viewers.js";

const REFRESH_MS = 5000;
const STATUS_LABELS = { live: "直播中", ended: "已结束", idle: "未开播", scheduled: "未开播" };
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

function roomCard(room) {
  const live = room.status === "live";
  return h(
    "article",
    { class: `card room${live ? " is-live" : ""}`, testid: "room-card", dataset: { roomId: String(room.room_id ?? "") } },
    h(
      "div",
      { class: "room-head" },
      h("span", { class: `badge ${live ? "badge-live" : ""}`, text: STATUS_LABELS[room.status] ?? room.status ?? "" }),
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
    h("div", { class: "room-foot" }, h("span", { class: "muted", text: `最近事件 ${fmtAgo(room.last_event_at)}` }), h("span", { class: "spacer" }), links(room.room_id ?? "")),
  );
}

async function refresh() {
  try {
    const rooms = await getJSON("/api/v1/rooms");
    const list = Array.isArray(rooms) ? rooms : [];
    list.sort((a, b) => Number(b.status === "live") - Number(a.status === "live"));
    if (!list.length) replace(listEl, h("p", { class: "muted", text: "还没有直播间。平台推送第一条事件后，直播间会自动出现在这里。" }));
    else replace(listEl, list.map(roomCard));
    updatedEl.textContent = `更新于 ${fmtTime(Date.now())}`;
  } catch (err) {
    updatedEl.textContent = `刷新失败：${err.message}`;
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
