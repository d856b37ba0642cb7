"""A customer's purchase history from the stream: orders once each, refunds clawed back.

The aggregates on the customer row always equal `profile.history_from_orders` over its paid
order rows: a new order is added incrementally (under the customer's row lock, so two rooms
cannot lose each other's update), a refund or a merge recomputes from the rows.

Money on the order row, whatever order the platform delivers in: refunds never take more than
their order's amount (what a refund asks beyond it is reported, not taken), and a refund that
arrives before its order is kept as an `early_refund` row that the order, when it comes,
completes: the room then counts the order and its refund as if they had come in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core.db import insert_for
from livedesk.customers import repository as repo
from livedesk.customers.models import Customer, CustomerOrder
from livedesk.customers.profile import (
    MAX_RECENT_ORDERS,
    ItemLine,
    OrderPoint,
    PaidOrder,
    PurchaseHistory,
)
from livedesk.ingest.schemas import Order

PAID = "paid"
REFUNDED = "refunded"
EARLY_REFUND = "early_refund"  # a refund whose order has not arrived yet


@dataclass(frozen=True)
class OrderOutcome:
    """What an order or refund event did to the customer's history."""

    kind: Literal["order", "refund"]
    order_id: str
    customer_id: int
    is_new: bool  # False: a redelivery, or a status livedesk does not count; nothing changed
    is_first_order: bool
    repurchase_count_before: int
    repurchase_count_after: int
    amount_cents: int
    order_count_after: int
    total_spent_cents_after: int
    # The room's sales: what this event takes off its order (a refund: the part of it the
    # order still had, 0 while the order is unknown; a late order: the refunds that came
    # first), whether it made a counted order refunded, and the room the order counts in
    # (None: not arrived yet, or imported from the CRM).
    refund_cents: int = 0
    order_refunded: bool = False
    order_room_id: str | None = None
    order_amount_cents: int | None = None
    # Refund asked beyond what the order had: not taken, reported to ops.
    over_refund_cents: int = 0


# The customer columns a purchase history sets (store_history, add_paid).
HISTORY_COLUMNS = (
    "order_count",
    "total_spent_cents",
    "first_order_at",
    "last_order_at",
    "last_items",
    "recent_orders",
    "bought_skus",
    "first_seen_at",
)


def history_of(customer: Customer) -> PurchaseHistory:
    """The customer row's aggregates as the pure profile functions take them."""
    recent = [_decode(entry) for entry in customer.recent_orders or []]
    return PurchaseHistory(
        order_count=customer.order_count,
        total_spent_cents=customer.total_spent_cents,
        first_order_at=customer.first_order_at,
        last_order_at=customer.last_order_at,
        recent_orders=tuple(OrderPoint(at, cents) for _id, at, cents, _skus in recent),
        last_items=tuple(customer.last_items or ()),
        bought_skus=frozenset(customer.bought_skus or ()),
    )


def store_history(customer: Customer, orders: Iterable[PaidOrder]) -> None:
    """Set the aggregates from every paid order of the customer (any order of the iterable)."""
    ranked = sorted(orders, key=_rank, reverse=True)
    customer.order_count = len(ranked)
    customer.total_spent_cents = sum(order.amount_cents for order in ranked)
    customer.first_order_at = ranked[-1].ordered_at if ranked else None
    customer.last_order_at = ranked[0].ordered_at if ranked else None
    customer.last_items = _names(ranked[0]) if ranked else []
    _set_recent(customer, [_encode(order) for order in ranked[:MAX_RECENT_ORDERS]])
    if ranked:
        _known_since(customer, ranked[-1].ordered_at)


def add_paid(customer: Customer, order: PaidOrder) -> None:
    """Count one more paid order (not counted before) without reading the others."""
    customer.order_count = (customer.order_count or 0) + 1
    customer.total_spent_cents = (customer.total_spent_cents or 0) + order.amount_cents
    if customer.first_order_at is None or order.ordered_at < customer.first_order_at:
        customer.first_order_at = order.ordered_at
    if customer.last_order_at is None or order.ordered_at > customer.last_order_at:
        customer.last_order_at = order.ordered_at
    _known_since(customer, order.ordered_at)
    recent = list(customer.recent_orders or [])
    top = _decode(recent[0]) if recent else None
    if top is None or _rank(order) > (top[1], top[0]):
        customer.last_items = _names(order)
    recent.append(_encode(order))
    recent.sort(key=lambda entry: (entry[1], entry[0]), reverse=True)  # ISO UTC sorts as time
    _set_recent(customer, recent[:MAX_RECENT_ORDERS])


async def recompute(session: AsyncSession, customer: Customer) -> None:
    store_history(customer, await repo.paid_orders_of(session, customer.id))


def paid_order_from_event(order: Order, at: datetime, item_names: Mapping[str, str]) -> PaidOrder:
    return PaidOrder(
        order_id=order.order_id,
        ordered_at=at,
        amount_cents=order.amount_cents,
        items=tuple(
            ItemLine(item.sku, item_names.get(item.sku, item.sku), item.qty) for item in order.items
        ),
    )


async def apply_order(
    session: AsyncSession,
    customer: Customer,
    order: Order,
    *,
    platform: str,
    room_id: str | None,
    at: datetime,
    item_names: Mapping[str, str] | None = None,
    locked: bool = False,
    stored: bool | None = None,
) -> OrderOutcome:
    """Record a paid order once per (platform, order_id); a redelivery changes nothing.

    An `order` event whose status is `refunded` is a refund; any other status than `paid`
    (created, cancelled…) is not a purchase and is not recorded. `locked`: the caller holds
    the customer's row lock and read it under that lock (`identify_batch` locks every buyer
    of a batch at once), so its values are current and need no fresh read here. `stored`:
    the caller already inserted the row with `store_paid_orders` (True: inserted then, False:
    it was there before); None: inserted here.
    """
    if order.status == REFUNDED:
        return await apply_refund(
            session, customer, order, platform=platform, room_id=room_id, at=at
        )
    if order.status != PAID:
        return _unchanged("order", order, customer)
    paid = paid_order_from_event(order, at, item_names or {})
    names = [line.name for line in paid.items]
    if stored is None:
        stored = await _insert_once(session, customer, order, platform, room_id, at, names)
    if not stored:
        # Seen before (maybe already refunded), or its refund came first and waits for it.
        return await _complete_early_refund(
            session, customer, order, paid, platform=platform, room_id=room_id
        )
    if not locked:
        await session.flush()  # pending changes must not be overwritten by the fresh read below
        customer = await repo.lock_customer(session, customer.id)
    before = customer.order_count
    add_paid(customer, paid)
    return _outcome(
        "order",
        order,
        customer,
        before=before,
        is_new=True,
        order_room_id=room_id,
        order_amount_cents=order.amount_cents,
    )


async def apply_refund(
    session: AsyncSession,
    customer: Customer,
    order: Order,
    *,
    platform: str,
    room_id: str | None,
    at: datetime,
) -> OrderOutcome:
    """Take a refund of `order.amount_cents` off the order, never more than it has left; the
    first refund marks the order refunded and claws it back from its customer's history.

    A refund that arrives before its order is kept as an `early_refund` row (further early
    refunds add to it) and takes nothing yet: the order completes it when it arrives.
    """
    asked = order.amount_cents
    row = await _locked_row(session, platform, order.order_id)
    if row is None:
        names = [item.sku for item in order.items]  # no catalogue names for a refund alone
        is_new = await _insert_once(
            session, customer, order, platform, room_id, at, names, early_refund=True
        )
        return _outcome("refund", order, customer, before=customer.order_count, is_new=is_new)
    if row.status == EARLY_REFUND:  # another refund before the order: it waits too
        row.refunded_cents += asked
        return _outcome("refund", order, customer, before=customer.order_count, is_new=True)
    taken = min(asked, max(row.amount_cents - row.refunded_cents, 0))
    row.refunded_cents += taken
    was_paid = row.status == PAID
    money = {
        "refund_cents": taken,
        "order_refunded": was_paid,
        "order_room_id": row.room_id,
        "order_amount_cents": row.amount_cents,
        "over_refund_cents": asked - taken,
    }
    if not was_paid:  # refunded before: its customer's history does not change again
        before = customer.order_count
        return _outcome("refund", order, customer, before=before, is_new=taken > 0, **money)
    row.status = REFUNDED
    row.refunded_at = at
    await session.flush()
    owner = await repo.lock_customer(session, row.customer_id)
    before = owner.order_count
    await recompute(session, owner)
    return _outcome("refund", order, owner, before=before, is_new=True, **money)


async def _complete_early_refund(
    session: AsyncSession,
    customer: Customer,
    order: Order,
    paid: PaidOrder,
    *,
    platform: str,
    room_id: str | None,
) -> OrderOutcome:
    """The order of a refund that came first: the row becomes the refunded order, the room
    counts the order and the refund (capped at the order's amount); else a redelivery."""
    row = await _locked_row(session, platform, order.order_id)
    if row is None or row.status != EARLY_REFUND:
        return _unchanged("order", order, customer)
    asked = row.refunded_cents
    taken = min(asked, order.amount_cents)
    row.customer_id = customer.id
    row.room_id = room_id
    row.amount_cents = order.amount_cents
    row.items = _item_rows(paid, order)
    row.coupon_id = order.coupon_id
    row.ordered_at = paid.ordered_at
    row.status = REFUNDED  # refunded orders are not in anyone's purchase history
    row.refunded_cents = taken
    return _outcome(
        "order",
        order,
        customer,
        before=customer.order_count,
        is_new=True,
        refund_cents=taken,
        order_refunded=True,
        order_room_id=room_id,
        order_amount_cents=order.amount_cents,
        over_refund_cents=asked - taken,
    )


async def _locked_row(session: AsyncSession, platform: str, order_id: str) -> CustomerOrder | None:
    await session.flush()
    query = select(CustomerOrder).where(
        CustomerOrder.platform == platform, CustomerOrder.order_id == order_id
    )
    return (
        await session.execute(query.with_for_update().execution_options(populate_existing=True))
    ).scalar_one_or_none()


def _item_rows(paid: PaidOrder, order: Order) -> list[dict[str, Any]]:
    return [
        {"sku": line.sku, "name": line.name, "qty": line.qty, "price_cents": item.price_cents}
        for line, item in zip(paid.items, order.items, strict=True)
    ]


@dataclass(frozen=True)
class PaidOrderEvent:
    """A paid order as an event brings it, to store with `store_paid_orders`."""

    customer_id: int
    order: Order
    platform: str
    room_id: str | None
    at: datetime


async def store_paid_orders(
    session: AsyncSession,
    orders: Sequence[PaidOrderEvent],
    item_names: Mapping[str, str] | None = None,
) -> set[tuple[str, str]]:
    """Insert many paid orders once per (platform, order_id) in one executemany statement
    (one cached statement whatever their number, where an INSERT per order was the
    pipeline's most frequent statement): the (platform, order_id) keys inserted now; the
    others were there before. The caller then applies each with `apply_order(stored=…)`,
    in event order."""
    if not orders:
        return set()
    names = item_names or {}
    rows = [
        _order_values(
            entry.customer_id,
            entry.order,
            entry.platform,
            entry.room_id,
            entry.at,
            [names.get(item.sku, item.sku) for item in entry.order.items],
        )
        for entry in orders
    ]
    table = cast(Table, CustomerOrder.__table__)
    statement = (
        insert_for(session, table)
        .on_conflict_do_nothing(index_elements=["platform", "order_id"])
        .returning(table.c.platform, table.c.order_id)
    )
    inserted = await session.execute(statement, rows)
    return {(platform, order_id) for platform, order_id in inserted}


async def _insert_once(
    session: AsyncSession,
    customer: Customer,
    order: Order,
    platform: str,
    room_id: str | None,
    at: datetime,
    names: Sequence[str],
    *,
    early_refund: bool = False,
) -> bool:
    """Store the order once per (platform, order_id): paid, or a refund that came before its
    order (`early_refund`: it takes its amount when the order comes). False when it was there
    before."""
    values = _order_values(
        customer.id, order, platform, room_id, at, names, early_refund=early_refund
    )
    inserted = await session.execute(
        insert_for(session, CustomerOrder)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["platform", "order_id"])
        .returning(CustomerOrder.id)
    )
    return inserted.scalar_one_or_none() is not None


def _order_values(
    customer_id: int,
    order: Order,
    platform: str,
    room_id: str | None,
    at: datetime,
    names: Sequence[str],
    *,
    early_refund: bool = False,
) -> dict[str, Any]:
    return {
        "platform": platform,
        "order_id": order.order_id,
        "customer_id": customer_id,
        "room_id": room_id,
        "amount_cents": order.amount_cents,
        "items": [
            {"sku": item.sku, "name": name, "qty": item.qty, "price_cents": item.price_cents}
            for item, name in zip(order.items, names, strict=True)
        ],
        "coupon_id": order.coupon_id,
        "status": EARLY_REFUND if early_refund else PAID,
        "ordered_at": at,
        "refunded_at": at if early_refund else None,
        "refunded_cents": order.amount_cents if early_refund else 0,
        "source": "stream",
    }


# --- helpers -----------------------------------------------------------------------------


def _known_since(customer: Customer, moment: datetime) -> None:
    """Someone who paid at `moment` was known by then: a CRM member imported today with orders
    from last year is not a brand-new account (the anti-abuse rules look at `first_seen_at`).
    Only ever moves it earlier; a refund does not make anyone newer."""
    if customer.first_seen_at is None or moment < customer.first_seen_at:
        customer.first_seen_at = moment


def _rank(order: PaidOrder) -> tuple[datetime, str]:
    return order.ordered_at, order.order_id


def _names(order: PaidOrder) -> list[str]:
    return list(dict.fromkeys(item.name for item in order.items if item.name))


def _encode(order: PaidOrder) -> list[Any]:
    skus = sorted({item.sku for item in order.items})
    return [order.order_id, _utc_iso(order.ordered_at), order.amount_cents, skus]


def _decode(entry: list[Any]) -> tuple[str, datetime, int, list[str]]:
    order_id, at, cents, skus = entry
    return str(order_id), datetime.fromisoformat(at), int(cents), list(skus)


def _utc_iso(moment: datetime) -> str:
    # One fixed format so the JSON strings sort in time order.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _set_recent(customer: Customer, recent: list[list[Any]]) -> None:
    customer.recent_orders = recent
    customer.bought_skus = sorted({sku for entry in recent for sku in entry[3]})


def _unchanged(kind: Literal["order", "refund"], order: Order, customer: Customer) -> OrderOutcome:
    return _outcome(kind, order, customer, before=customer.order_count, is_new=False)


def _outcome(
    kind: Literal["order", "refund"],
    order: Order,
    customer: Customer,
    *,
    before: int,
    is_new: bool,
    **money: Any,
) -> OrderOutcome:
    after = customer.order_count
    return OrderOutcome(
        kind=kind,
        order_id=order.order_id,
        customer_id=customer.id,
        is_new=is_new,
        is_first_order=kind == "order" and is_new and before == 0,
        repurchase_count_before=max(before - 1, 0),
        repurchase_count_after=max(after - 1, 0),
        amount_cents=order.amount_cents,
        order_count_after=after,
        total_spent_cents_after=customer.total_spent_cents,
        **money,
    )
