// Fulfilment outbox: grants on their way to the brand's system as signed webhooks.
// A one-line summary sits in the campaigns card (red while anything is dead); clicking it
// opens the dead letters with a retry button each. The sender, not the room log, changes this
// state, so it is polled while the page is visible. Errors come from the receiver's answers:
// rendered as text, never as HTML.
import { getJSON, postJSON, roomApi } from "./api.js";
import { $, fmtDateTime, fmtInt, fmtMoney, h, infoDialog, isNum, replace, toast } from "./dom.js";

const POLL_MS = 5000;

const NOTE_ENABLED = "红包和优惠券发放记录以签名 Webhook 推送到品牌系统，失败会自动重试；重试用尽的记录列在下面，可手动重试。";
const NOTE_DISABLED = "未配置推送地址（LIVEDESK_FULFILMENT_URL）：发放记录暂存为待推送，配置后自动推送。";

const RETRY_ERRORS = {
  404: "找不到这条推送记录",
  409: "这条推送已不在失败状态（可能已重试或已送达）",
};

/** @param {(counts: {pending?: number, delivered?: number, dead?: number}) => void} onCounts */
export function setupOutbox(roomId, onCounts = () => {}) {
  const api = `${roomApi(roomId)}/outbox`;
  const summaryEl = $('[data-testid="outbox-summary"]');
  let state = null;
  let problem = "";
  let dialog = null;
  let loading = false;

  function renderSummary() {
    const counts = state?.counts ?? {};
    for (const name of ["pending", "delivered", "dead"]) {
      $(`[data-testid="outbox-${name}"]`, summaryEl).textContent = fmtInt(counts[name]);
    }
    summaryEl.classList.toggle("has-dead", isNum(counts.dead) && counts.dead > 0);
    if (state) onCounts(counts);
  }

  function deadLetter(letter) {
    const button = h("button", { type: "button", class: "btn", testid: "btn-retry-outbox", text: "重试" });
    button.addEventListener("click", () => retry(button, letter));
    const what = [letter.title, isNum(letter.amount_cents) ? fmtMoney(letter.amount_cents) : null].filter(Boolean).join(" · ");
    return h(
      "li",
      { class: "dead-letter", testid: "dead-letter", dataset: { webhookId: letter.webhook_id } },
      h("div", { class: "top" }, h("span", { class: "title", text: what || letter.kind }), button),
      h("div", { class: "error", testid: "dead-letter-error", text: letter.last_error ? `失败原因：${letter.last_error}` : "失败原因未知" }),
      h("div", { class: "meta num", text: `已尝试 ${fmtInt(letter.attempts)} 次 · ${fmtDateTime(letter.created_at)} · ${letter.webhook_id}` }),
    );
  }

  function renderDialog() {
    if (!dialog || !dialog.body.isConnected) {
      dialog = null; // closed by the operator
      return;
    }
    const counts = state?.counts ?? {};
    const letters = Array.isArray(state?.dead_letters) ? state.dead_letters : [];
    const note = problem || (state ? (state.delivery_enabled ? NOTE_ENABLED : NOTE_DISABLED) : "加载中…");
    replace(
      dialog.body,
      h("p", { class: "outbox-note muted", testid: "outbox-note", text: note }),
      h(
        "div",
        { class: "outbox-counts num" },
        h("span", {}, "待推送 ", h("b", { text: fmtInt(counts.pending) })),
        h("span", {}, "已送达 ", h("b", { text: fmtInt(counts.delivered) })),
        h("span", {}, "失败 ", h("b", { text: fmtInt(counts.dead) })),
      ),
      h(
        "ol",
        { class: "dead-list", testid: "dead-letter-list" },
        letters.length ? letters.map(deadLetter) : h("li", { class: "empty-note", text: "暂无推送失败" }),
      ),
    );
  }

  async function refresh() {
    if (loading) return;
    loading = true;
    try {
      state = await getJSON(api);
      problem = "";
    } catch (err) {
      // 404: the room has no events yet, so nothing has been granted either.
      problem = err.status === 404 ? "" : `推送状态获取失败：${err.message}`;
    } finally {
      loading = false;
    }
    renderSummary();
    renderDialog();
  }

  async function retry(button, letter) {
    button.disabled = true;
    try {
      // One attempt: a 409 here means "not dead any more", not "still running".
      await postJSON(`${api}/${encodeURIComponent(letter.webhook_id)}/retry`, {}, { attempts: 1 });
      toast("已重新加入推送队列", "ok");
    } catch (err) {
      toast(RETRY_ERRORS[err.status] ?? err.message, "error", 8000);
    }
    await refresh();
  }

  function open() {
    dialog = infoDialog({ title: "履约推送", testid: "outbox-dialog" });
    renderDialog();
    refresh();
  }

  summaryEl.addEventListener("click", open);
  setInterval(() => {
    if (!document.hidden) refresh();
  }, POLL_MS);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refresh();
  });
  refresh();
  return { open };
}
