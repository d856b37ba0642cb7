// The customer card an ops person opens by clicking a name in the comment stream.
import { getJSON } from "./api.js";
import { ORDER_STATUS_LABELS, fmtDateTime, fmtInt, fmtMoney, h, infoDialog, isNum, replace } from "./dom.js";

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

function cardBody(c) {
  const tier = c.tier?.label ?? "";
  const segment = c.segment ?? {};
  const risk = isNum(segment.churn_risk) ? segment.churn_risk : null;
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
    ),
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
          [
            "流失风险",
            risk === null ? "—" : h("span", { class: risk >= 0.6 ? "risk-high" : "", text: `${Math.round(risk * 100)}%` }),
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
  try {
    const customer = await getJSON(`/api/v1/customers/${encodeURIComponent(customerId)}`);
    replace(dialog.body, cardBody(customer ?? {}));
  } catch (err) {
    replace(dialog.body, h("p", { class: "error-text", text: err.message }));
  }
}
