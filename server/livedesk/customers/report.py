"""The review's `top_customers` part: who bought the most in one live session."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.customers import repository as repo
from livedesk.customers.history import PAID, history_of
from livedesk.customers.models import CustomerOrder
from livedesk.customers.profile import profile_for
from livedesk.rulebook.customers import TierRules

TOP_CUSTOMERS = 15


async def top_customers(
    session: AsyncSession,
    room_id: str,
    tiers: TierRules,
    now: datetime,
    *,
    limit: int = TOP_CUSTOMERS,
    window: tuple[datetime, datetime] | None = None,
) -> list[dict[str, Any]]:
    """The room's buyers by what they paid in it (refunded orders not counted), highest first;
    within `window` (a session's start and end) when given.

    A merge moves orders to the surviving customer, so grouping by the order's customer counts
    a person's linked accounts together. The tier is the customer's tier now.
    """
    gmv = func.sum(CustomerOrder.amount_cents)
    query = (
        select(CustomerOrder.customer_id, gmv, func.count())
        .where(CustomerOrder.room_id == room_id, CustomerOrder.status == PAID)
        .group_by(CustomerOrder.customer_id)
        .order_by(gmv.desc(), CustomerOrder.customer_id)
        .limit(limit)
    )
    if window is not None:
        query = query.where(CustomerOrder.ordered_at.between(*window))
    ranked = [(int(cid), int(cents), int(n)) for cid, cents, n in await session.execute(query)]
    loaded = await repo.load_customers(session, [cid for cid, _cents, _n in ranked])
    rows: list[dict[str, Any]] = []
    for customer_id, gmv_cents, orders in ranked:
        customer = repo.root_of(loaded[customer_id], loaded)
        rows.append(
            {
                "customer_id": customer.id,
                "nickname": customer.nickname,
                "tier_label": profile_for(history_of(customer), tiers, now).tier.label,
                "gmv_cents": gmv_cents,
                "orders": orders,
            }
        )
    return rows
