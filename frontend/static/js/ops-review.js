// The held-claims review queue: claims the anti-abuse rules held (新账号, 观看时长不足 …),
// grouped by why they were held, approved or rejected a whole group or a selection at a time.
// Each decision is one call of the operators' API (POST …/claims/{id}/approve|reject), a few
// in flight at once; approving pays through the same budget guard, so a 409 means the drop ran
// out and is reported, not retried.
import { getJSON, postJSON, roomApi } from "./api.js";
import { confirmDialog, fmtDateTime, fmtInt, fmtMoney, h, infoDialog, replace, toast } from "./dom.js";

const PARALLEL = 4;
const ROWS_SHOWN = 200;

/** 新账号：活动开始前 3 分钟内才出现 -> 新账号 (pure). */
export function reasonGroup(reason) {
  return String(reason || "未注明").split(/[：:]/)[0].trim() || "未注明";
}

/** Run fn over items, `parallel` at a time; resolves to [done, failed] counts. */
export async function runAll(items, fn, parallel, onProgress) {
  let next = 0;
  let done = 0;
  let failed = 0;
  const errors = new Map();
  async function worker() {
    while (next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
        done += 1;
      } catch (err) {
        failed += 1;
        errors.set(err.message, (errors.get(err.message) ?? 0) + 1);
      }
      onProgress?.(done + failed, items.length);
    }
  }
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker));
  return { done, failed, errors };
}

export class HeldReview {
  constructor(roomId, onChanged) {
    this.api = roomApi(roomId);
    this.onChanged = onChanged;
    this.dialog = null;
    this.claims = [];
    this.selected = new Set();
    this.campaign = null;
    this.busy = false;
  }

  async open(campaign = null) {
    this.campaign = campaign;
    const name = campaign ? `「${campaign.title}」` : "";
    this.dialog = infoDialog({ title: `待审核的领取${name}`, body: h("p", { class: "muted", text: "加载中…" }), testid: "held-dialog" });
    await this.load();
  }

  async load() {
    try {
      const { claims } = await getJSON(`${this.api}/claims/held`);
      const id = this.campaign?.campaign_id ?? this.campaign?.drop_id;
      this.claims = (claims ?? []).filter((c) => !id || c.campaign_id === id);
    } catch (err) {
      replace(this.dialog.body, h("p", { class: "error-text", text: err.message }));
      return;
    }
    this.selected = new Set([...this.selected].filter((id) => this.claims.some((c) => c.claim_id === id)));
    this.render();
  }

  render(progress = "") {
    if (!this.dialog?.body.isConnected) return;
    if (!this.claims.length) {
      replace(this.dialog.body, h("p", { class: "empty-note", testid: "held-empty", text: "没有待审核的领取" }));
      return;
    }
    const groups = new Map();
    for (const claim of this.claims) {
      const group = reasonGroup(claim.reason);
      groups.set(group, [...(groups.get(group) ?? []), claim]);
    }
    replace(
      this.dialog.body,
      h("p", { class: "muted", text: `共 ${fmtInt(this.claims.length)} 笔被风控拦下，等待运营决定。批准即按原金额发放（仍受预算限制）；驳回后不再发放。` }),
      h("table", { class: "data held-groups" }, h("tbody", {}, [...groups].map(([name, claims]) => this.groupRow(name, claims)))),
      h(
        "div",
        { class: "held-bar" },
        h("span", { class: "muted", testid: "held-selected", text: `已选 ${this.selected.size} 笔` }),
        h("span", { class: "held-progress", testid: "held-progress", text: progress }),
        h("button", { type: "button", class: "btn btn-small", testid: "btn-reject-selected", text: "驳回所选", disabled: !this.selected.size || this.busy, onclick: () => this.decide([...this.selected], "reject", "所选") }),
        h("button", { type: "button", class: "btn btn-small btn-primary", testid: "btn-approve-selected", text: "批准所选", disabled: !this.selected.size || this.busy, onclick: () => this.decide([...this.selected], "approve", "所选") }),
      ),
      h("ol", { class: "held-list" }, this.claims.slice(0, ROWS_SHOWN).map((c) => this.claimRow(c))),
      this.claims.length > ROWS_SHOWN ? h("p", { class: "muted", text: `只列出前 ${ROWS_SHOWN} 笔；按原因批量处理可一次处理全部。` }) : null,
    );
  }

  groupRow(name, claims) {
    const ids = claims.map((c) => c.claim_id);
    const total = claims.reduce((sum, c) => sum + (c.amount_cents ?? 0), 0);
    return h(
      "tr",
      { testid: "held-group", dataset: { reason: name } },
      h("td", { class: "held-reason", text: name }),
      h("td", { class: "r num", text: `${fmtInt(claims.length)} 笔` }),
      h("td", { class: "r num", text: fmtMoney(total) }),
      h(
        "td",
        { class: "r" },
        h("button", { type: "button", class: "btn btn-small", testid: "btn-reject-group", disabled: this.busy, text: "全部驳回", onclick: () => this.decide(ids, "reject", `「${name}」`) }),
        " ",
        h("button", { type: "button", class: "btn btn-small btn-primary", testid: "btn-approve-group", disabled: this.busy, text: "全部批准…", onclick: () => this.decide(ids, "approve", `「${name}」`) }),
      ),
    );
  }

  claimRow(c) {
    const box = h("input", { type: "checkbox", checked: this.selected.has(c.claim_id), "aria-label": "选择" });
    box.addEventListener("change", () => {
      if (box.checked) this.selected.add(c.claim_id);
      else this.selected.delete(c.claim_id);
      this.render();
    });
    return h(
      "li",
      { class: "held-row", testid: "held-claim", dataset: { claimId: c.claim_id } },
      h("label", {}, box, h("span", { class: "num", text: fmtMoney(c.amount_cents) }), h("span", { text: c.campaign_title ?? "" }), h("span", { class: "muted", text: c.platform_user_id ?? "" })),
      h("div", { class: "held-why", text: `${c.reason ?? "未注明原因"} · ${fmtDateTime(c.created_at)}` }),
    );
  }

  async decide(ids, decision, what) {
    if (!ids.length || this.busy) return;
    const claims = this.claims.filter((c) => ids.includes(c.claim_id));
    const total = claims.reduce((sum, c) => sum + (c.amount_cents ?? 0), 0);
    const verb = decision === "approve" ? "批准" : "驳回";
    const lines = [`${verb}${what} ${fmtInt(ids.length)} 笔领取（共 ${fmtMoney(total)}）？`];
    if (decision === "approve") lines.push("批准后立即按原金额发放，预算用完的会失败。");
    const body = h("div", { class: "confirm-summary", testid: "confirm-summary" }, lines.map((line) => h("p", { text: line })));
    if (!(await confirmDialog({ title: `${verb}待审核的领取`, body, okText: `确认${verb}`, danger: decision === "approve" }))) return;
    this.busy = true;
    this.render(`处理中 0 / ${ids.length}`);
    const result = await runAll(
      ids,
      (id) => postJSON(`${this.api}/claims/${encodeURIComponent(id)}/${decision}`, {}, { attempts: 1 }),
      PARALLEL,
      (n, of) => this.render(`处理中 ${n} / ${of}`),
    );
    this.busy = false;
    for (const id of ids) this.selected.delete(id);
    const why = [...result.errors.keys()][0];
    toast(`已${verb} ${result.done} 笔${result.failed ? `，${result.failed} 笔失败（${why}）` : ""}`, result.failed ? "error" : "ok", 8000);
    await this.load();
    this.onChanged?.();
  }
}
