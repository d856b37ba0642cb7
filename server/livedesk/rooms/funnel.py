"""The session's buyers and carts, tallied per batch into the room's counters for the KPIs a
老客专场 playbook defines (formulas in rooms.kpis):

- `buyers`: customers with a paid order in this room's session; `buyers_repeat` those with
  a second one; `buyers_returning` those who had bought before (another room or the CRM).
- `carters`: customers who added to cart in the room; `carters_ordered` those who placed an
  order afterwards (any of their linked accounts: a cart on Douyin live, the order from 抖店).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core.db import insert_for, one_of
from livedesk.customers.models import CustomerOrder
from livedesk.customers.service import Identified
from livedesk.ingest.schemas import Event
from livedesk.onair import records
from livedesk.rooms.models import RoomCart


async def tally(
    session: AsyncSession,
    room_id: str,
    events: Sequence[Event],
    who: Sequence[Identified | None],
) -> Counter[str]:
    """Counter increments for this batch's carts and new paid orders.

    A batch's orders take two statements whatever their number (the open carts of their
    buyers, their paid orders in the session), plus one executemany UPDATE when carts were
    converted; the batch is then walked in order in memory."""
    counts: Counter[str] = Counter()
    orders = [
        (event, identified)
        for event, identified in zip(events, who, strict=True)
        if identified is not None and _new_order(event, identified)
    ]
    buyers = {_buyer(identified) for _event, identified in orders}
    open_carts = await _open_carts(session, room_id, buyers)
    paid_here = await _paid_in_session(session, room_id, buyers) if buyers else {}
    # The buyer's paid orders in the session up to each order: the batch's own are stored
    # already (customers.identify_batch), so count back from the total.
    still_to_come = Counter(_buyer(identified) for _event, identified in orders)
    converted: dict[int, datetime] = {}
    for event, identified in zip(events, who, strict=True):
        if identified is None:
            continue
        if event.type == "cart":
            insert = insert_for(session, RoomCart).values(
                room_id=room_id, customer_id=identified.customer_id, carted_at=event.ts
            )
            added = _rowcount(await session.execute(insert.on_conflict_do_nothing()))
            counts["carters"] += added
            if added:
                open_carts[identified.customer_id] = event.ts
        elif _new_order(event, identified):
            customer_id = _buyer(identified)  # the order's owner (linked accounts: one)
            carted_at = open_carts.get(customer_id)
            if carted_at is not None and carted_at <= event.ts:
                del open_carts[customer_id]
                converted[customer_id] = event.ts
                counts["carters_ordered"] += 1
            paid_so_far = paid_here.get(customer_id, 0) - still_to_come[customer_id] + 1
            still_to_come[customer_id] -= 1
            if paid_so_far == 1:
                counts["buyers"] += 1
                counts["buyers_returning"] += int(identified.is_returning)
            elif paid_so_far == 2:
                counts["buyers_repeat"] += 1
    if converted:
        carts = cast(Table, RoomCart.__table__)  # Core executemany: one prepared UPDATE
        await session.execute(
            update(carts)
            .where(carts.c.room_id == room_id, carts.c.customer_id == bindparam("customer"))
            .values(ordered_at=bindparam("ordered_at")),
            [{"customer": c, "ordered_at": at} for c, at in sorted(converted.items())],
        )
    return counts


def _new_order(event: Event, identified: Identified) -> bool:
    order = identified.order
    return (
        event.type == "order"
        and order is not None
        and order.is_new
        and order.kind == "order"  # not an order event that is a refund
    )


def _buyer(identified: Identified) -> int:
    assert identified.order is not None
    return identified.order.customer_id


async def _open_carts(
    session: AsyncSession, room_id: str, customer_ids: set[int]
) -> dict[int, datetime]:
    """When each of these customers added to cart in the room, if they have not ordered since."""
    if not customer_ids:
        return {}
    query = select(RoomCart.customer_id, RoomCart.carted_at).where(
        RoomCart.room_id == room_id,
        one_of(session, RoomCart.customer_id, customer_ids),
        RoomCart.ordered_at.is_(None),
    )
    return {customer_id: at for customer_id, at in (await session.execute(query)).all()}


async def _paid_in_session(
    session: AsyncSession, room_id: str, customer_ids: set[int]
) -> dict[int, int]:
    """Each buyer's paid orders in this room's open session (all of them when none is open)."""
    since = records.open_since(room_id)
    query = (
        select(CustomerOrder.customer_id, func.count())
        .where(
            one_of(session, CustomerOrder.customer_id, customer_ids),
            CustomerOrder.room_id == room_id,
            CustomerOrder.status == "paid",
            or_(since.is_(None), CustomerOrder.ordered_at >= since),
        )
        .group_by(CustomerOrder.customer_id)
    )
    return {customer_id: n for customer_id, n in (await session.execute(query)).all()}


def _rowcount(result: Any) -> int:
    """Rows an INSERT or UPDATE touched (a CursorResult's; the typed Result has no rowcount)."""
    return max(0, int(result.rowcount or 0))
