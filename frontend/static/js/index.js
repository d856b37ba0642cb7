// Rooms overview: live rooms first, with headline KPIs, refreshed every few seconds.
import { ApiError, getJSON, postJSON, roomApi } from "./api.js";
import { $, fmtAgo, fmtDateTime, fmtInt, fmtTime, fmtMoneyShort, fmtPct, h, pageData, replace, toast } from "./dom.js";
import { SESSION_KINDS, SESSION_LABELS, fmtElapsed } from "./show.js";
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
  const kind = session.kind && session.kind !== "regular" ? `${SESSION_KINDS[session.kind] ?? session.kind} · ` : "";
  const started = `${kind}${fmtDateTime(session.started_at)} 开播`;
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
    h("div", { class: "room-foot" }, h("span", { class: "muted", text: room.last_event_at ? `最近事件 ${fmtAgo(room.last_event_at)}` : "还没有平台推送" }), h("span", { class: "spacer" }), links(room.room_id ?? "")),
  );
}

async function refresh() {
  try {
    const rooms = await getJSON("/api/v1/rooms");
    const list = Array.isArray(rooms) ? rooms : [];
    list.sort((a, b) => Number(stateOf(b) === "live") - Number(stateOf(a) === "live"));
    if (!list.length) replace(listEl, h("p", { class: "muted", text: "还没有直播间。平台推送第一条事件后，直播间会自动出现在这里；运营也可以先「新开一场直播」。" }));
    else replace(listEl, list.map(roomCard));
    updatedEl.textContent = `更新于 ${fmtTime(Date.now())}`;
  } catch (err) {
    updatedEl.textContent = `刷新失败：${err.message}`;
  }
}

// 新开一场: 开播 of a room no event has created yet (or of one that exists), then its console.
function setupOpenRoom() {
  const form = $('[data-testid="form-open-room"]');
  const toggle = $('[data-testid="btn-open-room"]');
  if (!form || !toggle) return;
  const show = (open) => {
    form.classList.toggle("hidden", !open);
    toggle.setAttribute("aria-expanded", String(open));
    if (open) form.elements.room_id.focus();
  };
  toggle.addEventListener("click", () => show(form.classList.contains("hidden")));
  $('[data-testid="btn-open-room-cancel"]').addEventListener("click", () => show(false));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const roomId = form.elements.room_id.value.trim();
    if (!roomId) {
      toast("请填写直播间 ID", "error");
      return;
    }
    const body = { kind: form.elements.kind.value };
    if (form.elements.platform.value) body.platform = form.elements.platform.value;
    if (form.elements.title.value.trim()) body.title = form.elements.title.value.trim();
    const button = $('[data-testid="btn-open-room-start"]');
    button.disabled = true;
    try {
      await postJSON(`${roomApi(roomId)}/session/start`, body, { attempts: 1 });
    } catch (err) {
      // Already on air: its console is where ops wanted to go.
      if (!(err instanceof ApiError && err.status === 409)) {
        toast(err.message, "error", 8000);
        button.disabled = false;
        return;
      }
    }
    window.location.assign(`/ops/${encodeURIComponent(roomId)}`);
  });
}

setupOpenRoom();
refresh();
setInterval(refresh, REFRESH_MS);
