"""What a shop API says about an order, and the livedesk event an order notice becomes.

Pure: no I/O. The clients (`doudian.py`, `wechat.py`) read the platforms' shapes into these;
`order_event` / `refund_event` write the generic event the pipeline takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# A shop buyer is their account on the shop's own platform (the inbox row's platform): a 抖店
# buyer id is not a Douyin live viewer id. union_id / phone_hash (when the shop gives them), or
# a CRM row naming the account, link the buyer to their other accounts.
_NICKNAME_MAX = 64


@dataclass(frozen=True, slots=True)
class Buyer:
    id: str  # the shop platform's own buyer id
    nickname: str | None = None
    union_id: str | None = None
    phone_hash: str | None = None


@dataclass(frozen=True, slots=True)
class ShopOrder:
    order_id: str
    buyer: Buyer
    amount_cents: int
    items: list[dict[str, Any]]  # [{sku, qty, price_cents}]
    paid_at_ms: int | None = None
    coupon_id: str | None = None
    # The platform's id of the live session the order was placed in, when the order says.
    live_room: str | None = None


@dataclass(frozen=True, slots=True)
class Paid:
    order: ShopOrder


@dataclass(frozen=True, slots=True)
class NotYetPaid:
    """Placed but not paid: look again later (a 'paid' push also wakes the notice)."""

    status: str


@dataclass(frozen=True, slots=True)
class NoOrder:
    """Nothing for livedesk: cancelled, closed unpaid, or not this shop's."""

    why: str


Fetched = Paid | NotYetPaid | NoOrder


class ShopApiError(Exception):
    """The shop API did not answer usefully this time; try again later. `retry_after_s`: the
    platform said when (HTTP 429 Retry-After, or its own rate-limit code)."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def event_id(platform: str, kind: str, order_id: str) -> str:
    """One inbox event per (shop platform, kind, order): a second fetch stores nothing new."""
    return f"{platform}:{kind}:{order_id}"[:128]


def buyer_user(buyer: Buyer) -> dict[str, Any]:
    user: dict[str, Any] = {"id": buyer.id[:128]}
    if buyer.nickname:
        user["nickname"] = buyer.nickname[:_NICKNAME_MAX]
    if buyer.union_id:
        user["union_id"] = buyer.union_id
    if buyer.phone_hash:
        user["phone_hash"] = buyer.phone_hash
    return user


def order_event(platform: str, order: ShopOrder, *, room_id: str, now_ms: int) -> dict[str, Any]:
    """The generic `order` event for a paid shop order (its id is stable: one per order)."""
    body: dict[str, Any] = {
        "order_id": order.order_id,
        "amount_cents": order.amount_cents,
        "items": order.items,
        "status": "paid",
    }
    if order.coupon_id:
        body["coupon_id"] = order.coupon_id
    return {
        "id": event_id(platform, "order", order.order_id),
        "type": "order",
        "room_id": room_id,
        "ts": order.paid_at_ms or now_ms,
        "user": buyer_user(order.buyer),
        "order": body,
    }


def refund_event(
    platform: str, order_event_record: dict[str, Any], *, amount_cents: int | None, now_ms: int
) -> dict[str, Any]:
    """The generic `refund` event for an order already in a room: same buyer, same room."""
    order = dict(order_event_record["order"])
    if amount_cents is not None:
        order["amount_cents"] = min(amount_cents, order["amount_cents"])
    order["status"] = "refunded"
    return {
        "id": event_id(platform, "refund", order["order_id"]),
        "type": "refund",
        "room_id": order_event_record["room_id"],
        "ts": now_ms,
        "user": order_event_record["user"],
        "order": order,
    }
