"""What ops are told when an order's figures do not add up (pure: no I/O).

Which figure counts: an order's `amount_cents` is what the buyer paid (after coupons and
discounts) and is what GMV counts; `items` (qty × price_cents) count per product on the sales
card. They are flagged when they disagree in a way no discount explains:

- the amount is above the items' total by a fen per unit or more (a shop that splits a line's
  payment per unit, as 抖店 does, loses less than a fen per unit rounding down), or
- the amount is below the items' total and the order names no coupon.

A refund asking more than its order has left is taken only up to what the order had, and
flagged. Each kind is one alert per room, updated in place with the latest order and how many
orders of the session it concerns, so a shop that always disagrees makes one line, not one per
order.
"""

from __future__ import annotations

from typing import Any

from livedesk.ingest.schemas import Order

ORDER_MISMATCH = "order_mismatch"
REFUND_OVER_ORDER = "refund_over_order"


def items_total_cents(order: Order) -> int:
    return sum(item.qty * item.price_cents for item in order.items)


def amount_mismatch(order: Order) -> bool:
    """The amount paid and the items disagree beyond rounding or a named coupon."""
    if not order.items:
        return False  # nothing to compare with
    total = items_total_cents(order)
    units = sum(item.qty for item in order.items)
    if order.amount_cents >= total + units:
        return True
    return order.amount_cents < total and order.coupon_id is None


def mismatch_alert(order: Order, orders_flagged: int) -> dict[str, Any]:
    return _alert(
        ORDER_MISMATCH,
        f"订单 {order.order_id} 金额与商品不符",
        f"实付 ¥{_yuan(order.amount_cents)}，商品合计 ¥{_yuan(items_total_cents(order))}；"
        f"GMV 按实付计，商品销售额按商品计（本场共 {orders_flagged} 笔不符）",
    )


def over_refund_alert(
    order_id: str, asked_cents: int, order_cents: int, taken_cents: int, refunds_flagged: int
) -> dict[str, Any]:
    return _alert(
        REFUND_OVER_ORDER,
        f"订单 {order_id} 退款超过订单金额",
        f"退款 ¥{_yuan(asked_cents)}，订单 ¥{_yuan(order_cents)}，只扣 ¥{_yuan(taken_cents)}；"
        f"请核对平台退款记录（本场共 {refunds_flagged} 笔）",
    )


def _alert(kind: str, title: str, detail: str) -> dict[str, Any]:
    # One id per kind and room: a later order updates the same line on the console.
    return {
        "id": kind,
        "key": kind,
        "kind": kind,
        "severity": "warning",
        "title": title,
        "detail": detail,
        "state": "open",
    }


def _yuan(cents: int) -> str:
    return f"{cents / 100:.2f}"
