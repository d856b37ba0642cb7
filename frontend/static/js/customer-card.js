// The customer card an ops person opens by clicking a name in the comment stream.
import { getJSON, putJSON } from "./api.js";
import { ORDER_STATUS_LABELS, fmtDateTime, fmtInt, fmtMoney, h, infoDialog, replace, toast } from "./dom.js";

// Why a customer is never named on stream (the API's do_not_greet reasons).
const DO_NOT_GREET_LABELS = {
  opted_out: "客户不希望被点名",
  open_complaint: "有未处理的投诉",
  refund_in_progress: "退款处理中",
};
const CHURN_RISK_LABELS = { high: "高", medium: "中", low: "低" };

const PLATFORM_LABELS = { douyin: "抖音", kuaishou: "快手", taobao: "淘宝", wechat: "微信视频号", generic: "通用" };

function facts(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs.filter(([, value]) => value !== null && value !== undefined && value !== "").flatMap(([label, value]) => [
      h("dt", { text: label }),
      h("dd", {}, value),
    ]),
  );
}

/** 勿点名: the current reason, and the ops action that sets or clears it. */
function doNotGreetSection(c, onChange) {
  const current = c.do_not_greet ?? null;
  const select = h(
    "select",
    { testid: "dng-reason", "aria-label": "勿点名原因" },
    Object.entries(DO_NOT_GREET_LABELS).map(([value, label]) =>
      h("option", { value, text: label, selected: value === current ? true : null }),
    ),
  );
  const save = async (reason) => {
    try {
      const answer = await putJSON(`/api/v1/customers/${encodeURIComponent(c.id)}/do-not-greet`, { reason });
      toast(answer.do_not_greet ? `已设为勿点名：${DO_NOT_GREET_LABELS[answer.do_not_greet]}` : "已恢复点名", "success");
      onChange();
    } catch (err) {
      toast(err.message, "error");
    }
  };
  return h(
    "section",
    { class: "cust-dng", testid: "customer-dng" },
    h("h3", { text: "主播点名" }),
    h("p", {
      testid: "dng-state",
      class: current ? "risk-high" : "",
      text: current ? `勿点名：${DO_NOT_GREET_LABELS[current] ?? current}` : "可以点名欢迎",
    }),
    h(
      "div",
      { class: "row" },
      select,
      h("button", { type: "button", class: "btn btn-danger", testid: "dng-set", text: "设为勿点名", onclick: () => save(select.value) }),
      current ? h("button", { type: "button", class: "btn", testid: "dng-clear", text: "恢复点名", onclick: () => save(null) }) : null,
    ),
  );
}

function cardBody(c, onChange) {
  const tier = c.tier?.label ?? "";
  const segment = c.segment ?? {};
  const risk = CHURN_RISK_LABELS[segment.churn_risk] ?? null;
  const history = c.history ?? {};
  const orders = Array.isArray(c.orders) ? c.orders.slice(0, 8) : [];
  const identities = Array.isArray(c.identities) ? c.identities : [];
  const lastItems = Array.isArray(history.last_items) ? history.last_items : [];
  return [
    h(
      "div",
      { class: "cust-head" },
      h("span", { testid: "customer-nickname", text: c.nickname ?? "" }),
      tier ? h("span", { class: "badge badge-tier", text: tier }) : null,
      segment.label ? h("span", { class: "badge", text: segment.label }) : null,
      c.do_not_greet ? h("span", { class: "badge badge-danger", testid: "dng-badge", text: "勿点名" }) : null,
    ),
    doNotGreetSection(c, onChange),
    h(
      "div",
      { class: "cust-grid" },
      h(
        "section",
        {},
        h("h3", { text: "消费" }),
        facts([
          ["订单数", fmtInt(history.order_count)],
          ["累计消费", fmtMoney(history.total_spent_cents)],
          ["最近下单", history.last_order_at ? fmtDateTime(history.last_order_at) : "—"],
          ["最近买过", lastItems.map((item) => (typeof item === "string" ? item : item?.name ?? item?.sku ?? "")).filter(Boolean).join("、") || "—"],
        ]),
      ),
      h(
        "section",
        {},
        h("h3", { text: "RFM 与流失风险" }),
        facts([
          ["R / F / M", c.rfm ? `${c.rfm.r ?? "—"} / ${c.rfm.f ?? "—"} / ${c.rfm.m ?? "—"}` : "—"],
          ["RFM 得分", c.rfm?.score ?? "—"],
          ["流失风险", risk === null ? "—" : h("span", { class: segment.churn_risk === "high" ? "risk-high" : "", text: risk })],
          [
            "流失预警",
            c.churn
              ? h("span", {
                  testid: "customer-churn",
                  class: c.churn.level === "high" ? "risk-high" : "",
                  text: `${c.churn.label}：${(c.churn.reasons ?? []).map((r) => r.text).join("；")}`,
                })
              : "—",
          ],
        ]),
      ),
      h(
        "section",
        {},
        h("h3", { text: "平台身份" }),
        identities.length
          ? facts(identities.map((i) => [PLATFORM_LABELS[i.platform] ?? i.platform ?? "平台", i.platform_user_id ?? ""]))
          : h("p", { class: "empty-note", text: "无" }),
      ),
      h(
        "section",
        {},
        h("h3", { text: "最近订单" }),
        orders.length
          ? h(
              "table",
              { class: "data" },
              h("tbody", {}, orders.map((o) =>
                h(
                  "tr",
                  {},
                  h("td", { text: o.created_at ? fmtDateTime(o.created_at) : o.order_id ?? "" }),
                  h("td", { class: "r", text: fmtMoney(o.amount_cents) }),
                  h("td", { text: ORDER_STATUS_LABELS[o.status] ?? o.status ?? "" }),
                ),
              )),
            )
          : h("p", { class: "empty-note", text: "无" }),
      ),
    ),
  ];
}

export async function openCustomerCard(customerId, fallbackName = "") {
  const dialog = infoDialog({
    title: `客户卡片${fallbackName ? ` · ${fallbackName}` : ""}`,
    body: h("p", { class: "muted", text: "加载中…" }),
    testid: "customer-card",
  });
  const load = async () => {
    try {
      const customer = await getJSON(`/api/v1/customers/${encodeURIComponent(customerId)}`);
      replace(dialog.body, cardBody(customer ?? {}, load));
    } catch (err) {
      replace(dialog.body, h("p", { class: "error-text", text: err.message }));
    }
  };
  await load();
}
