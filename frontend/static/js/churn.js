// 流失预警: customers at churn risk, filtered, a page at a time, and their spreadsheet.
import { getJSON } from "./api.js";
import { $, fmtInt, fmtMoney, h, replace } from "./dom.js";

const form = $('[data-testid="churn-filters"]');
const body = $('[data-testid="churn-table"] tbody');
const more = $('[data-testid="btn-churn-more"]');
const RISK_CLASS = { high: "route-after_sales", medium: "", low: "muted" };
let next = 0;
let shown = 0;

function query(extra = {}) {
  const params = new URLSearchParams();
  for (const name of ["risk", "reason", "tier", "segment"]) {
    const value = form.elements.namedItem(name).value;
    if (value) params.set(name, value);
  }
  for (const [key, value] of Object.entries(extra)) params.set(key, String(value));
  return params;
}

function row(c) {
  const notes = [c.do_not_greet ? "勿点名" : "", c.do_not_contact ? "拒绝营销" : ""].filter(Boolean).join("、");
  return h(
    "tr",
    { testid: "churn-row" },
    h("td", { text: c.nickname ?? String(c.customer_id) }),
    h("td", { text: c.tier?.label ?? "" }),
    h("td", { text: c.segment?.label ?? "" }),
    h("td", { class: RISK_CLASS[c.risk?.level] ?? "", text: c.risk?.label ?? "" }),
    h("td", { text: (c.risk?.reasons ?? []).map((r) => r.text).join("；") }),
    h("td", { class: "r", text: fmtInt(c.days_since_last_order) }),
    h("td", { class: "r", text: fmtMoney(c.total_spent_cents) }),
    h("td", { text: notes }),
  );
}

async function page(reset) {
  if (reset) {
    next = 0;
    shown = 0;
    replace(body);
  }
  try {
    const answer = await getJSON(`/api/v1/customers/churn?${query({ after: next, limit: 100 })}`);
    const rows = answer.customers ?? [];
    body.append(...rows.map(row));
    shown += rows.length;
    next = answer.next_after;
    more.classList.toggle("hidden", next === null || next === undefined);
    $('[data-testid="churn-count"]').textContent = `已列出 ${fmtInt(shown)} 位${next === null ? "" : "（还有更多）"}`;
    if (!shown) replace(body, h("tr", {}, h("td", { colspan: "8", class: "muted", text: "没有符合条件的客户" })));
  } catch (err) {
    const errorEl = $('[data-testid="churn-error"]');
    errorEl.textContent = `加载失败：${err.message}`;
    errorEl.classList.remove("hidden");
  }
  $('[data-testid="download-churn"]').href = `/api/v1/customers/churn?${query({ format: "csv" })}`;
}

async function loadChoices() {
  try {
    const { tiers = [], segments = [] } = await getJSON("/api/v1/customers/audiences");
    $('[data-testid="churn-tier"]').append(...tiers.map((t) => h("option", { value: t.id, text: t.label })));
    $('[data-testid="churn-segment"]').append(...segments.map((s) => h("option", { value: s.id, text: s.label })));
  } catch {
    // The filters still work without the choices.
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  page(true);
});
more.addEventListener("click", () => page(false));
$('[data-testid="btn-print"]').addEventListener("click", () => window.print());
loadChoices();
page(true);
