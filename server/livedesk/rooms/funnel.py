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
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core.db import insert_for
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
    """Counter increments for this batch's carts and new paid orders."""
    counts: Counter[str] = Counter()
    since: datetime | None = None  # the open session's start (orders before it: another's)
    if any(e.type == "order" for e in events):
        live = await records.latest(session, room_id)
        since = live.started_at if live is not None and live.ended_at is None else None
    for event, identified in zip(events, who, strict=True):
        if identified is None:
            continue
        if event.type == "cart":
            insert = insert_for(session, RoomCart).values(
                room_id=room_id, customer_id=identified.customer_id, carted_at=event.ts
            )
            added = await session.execute(insert.on_conflict_do_nothing())
            counts["carters"] += _rowcount(added)
        elif (
            event.type == "order"
            and identified.order is not None
            and identified.order.is_new
            and identified.order.kind == "order"  # not an order event that is a refund
        ):
            await _order(session, room_id, event, identified, counts, since)
    return counts


async def _order(
    session: AsyncSession,
    room_id: str,
    event: Event,
    identified: Identified,
    counts: Counter[str],
    since: datetime | None,
) -> None:
    assert identified.order is not None
    customer_id = identified.order.customer_id  # the order's owner (linked accounts: one)
    converted = await session.execute(
        update(RoomCart)
        .where(
            RoomCart.room_id == room_id,
            RoomCart.customer_id == customer_id,
            RoomCart.ordered_at.is_(None),
            RoomCart.carted_at <= event.ts,
        )
        .values(ordered_at=event.ts)
    )
    counts["carters_ordered"] += _rowcount(converted)
    # The order is stored (customers.identify_batch flushed it): the buyer's paid orders in
    # this room's session, this one included, say whether they are a new or a repeat buyer.
    query = select(func.count()).where(
        CustomerOrder.customer_id == customer_id,
        CustomerOrder.room_id == room_id,
        CustomerOrder.status == "paid",
    )
    if since is not None:
        query = query.where(CustomerOrder.ordered_at >= since)
    paid_here = await session.scalar(query)
    if paid_here == 1:
        counts["buyers"] += 1
        counts["buyers_returning"] += int(identified.is_returning)
    elif paid_here == 2:
        counts["buyers_repeat"] += 1


def _rowcount(result: Any) -> int:
    """Rows an INSERT or UPDATE touched (a CursorResult's; the typed Result has no rowcount)."""
    return max(0, int(result.rowcount or 0))
