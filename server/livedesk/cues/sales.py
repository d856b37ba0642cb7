"""A room's sales figures from what each order or refund did to its order (the customers'
`OrderOutcome`): orders, GMV, refunds, per-product sales, and the ops alerts when the figures
do not add up.

GMV is the room's paid orders' amounts less what refunds took off them. Refunds never take more
than their order (customers.history caps them), and only the room an order counted in loses
its refunds; a refund that came before its order counts when the order does. So GMV is never
negative, whatever order the platforms deliver in (rooms.kpis.gmv_cents still clamps at
zero, so that no figure derived from room state can show one).
"""

from __future__ import annotations

from livedesk.analysis.windows import RoomWindows
from livedesk.cues import money
from livedesk.customers.history import OrderOutcome
from livedesk.ingest.schemas import Event
from livedesk.roomlog.messages import Message


def tally(
    counters: dict[str, int],
    windows: RoomWindows,
    event: Event,
    outcome: OrderOutcome | None,
    *,
    user_id: str | None,
    returning: bool,
) -> list[Message]:
    """Count one order or refund event in its room; the alerts it raises for ops."""
    order = event.order
    if order is None or outcome is None:
        return []
    messages: list[Message] = []
    # Not new: a redelivery, a status that is no purchase (created…), a refund taking nothing
    # (its order had nothing left: only the alert below).
    if outcome.is_new and outcome.kind == "order":
        windows.add_viewer_event(
            event.ts, "order", user_id=user_id, amount_cents=order.amount_cents
        )
        group = "returning" if returning else "new"
        _bump(counters, "orders", 1)
        _bump(counters, "gmv_cents", order.amount_cents)
        _bump(counters, f"orders_{group}", 1)
        _bump(counters, f"gmv_{group}_cents", order.amount_cents)
        for line in order.items:  # per product, for ops' sales-and-stock panel
            _bump(counters, f"sold:{line.sku}", line.qty)
            _bump(counters, f"sales_cents:{line.sku}", line.qty * line.price_cents)
        if money.amount_mismatch(order):
            _bump(counters, "orders_mismatched", 1)
            messages.append(
                Message("alert", money.mismatch_alert(order, counters["orders_mismatched"]))
            )
    if outcome.is_new and outcome.order_room_id == event.room_id:  # this room's order
        _bump(counters, "refunded_cents", outcome.refund_cents)
        if outcome.order_refunded:
            windows.add_viewer_event(
                event.ts, "refund", user_id=user_id, amount_cents=outcome.refund_cents
            )
            _bump(counters, "refunds", 1)
    if outcome.over_refund_cents:
        _bump(counters, "refunds_capped", 1)
        messages.append(
            Message(
                "alert",
                money.over_refund_alert(
                    order.order_id,
                    outcome.refund_cents + outcome.over_refund_cents,
                    outcome.order_amount_cents or 0,
                    outcome.refund_cents,
                    counters["refunds_capped"],
                ),
            )
        )
    return messages


def _bump(counters: dict[str, int], key: str, by: int) -> None:
    if by:
        counters[key] = counters.get(key, 0) + by
