"""A session's figures from what lasts: its counters (the room's, kept as they stood at 下播),
its orders, and its drops' grants. Returning means a paid order before the session started."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from livedesk.afterstream.comparison import SessionFigures
from livedesk.afterstream.sessions import ShowSession, Window
from livedesk.customers.history import PAID
from livedesk.customers.models import CustomerOrder
from livedesk.promotions.models import PAID_STATES, REDEEMED, Campaign, Grant
from livedesk.promotions.report import drops
from livedesk.rooms.kpis import interactors


async def figures_of(session: AsyncSession, this: ShowSession) -> SessionFigures:
    room = this.room
    start, _end = this.span()
    window = this.window()  # None: all the room saw
    counters = this.counters()
    orders, gmv, orders_returning, gmv_returning = await _orders(session, room.id, start, window)
    granted, redeemed = await _coupons(session, room.id, window)
    rows = (await drops(session, room.id, window))["drops"]
    return SessionFigures(
        viewers_seen=counters.get("viewers_seen", 0),
        viewers_estimated=counters.get("viewers_seen_estimated", 0),
        returning_seen=counters.get("returning_seen", 0),
        interactors=interactors(counters),  # 互动率's numerator (rooms.kpis)
        comments=counters.get("comments", 0),
        orders=orders,
        gmv_cents=gmv,
        orders_returning=orders_returning,
        gmv_returning_cents=gmv_returning,
        coupons_granted=granted,
        coupons_redeemed=redeemed,
        drop_cost_cents=sum(int(row["cost_cents"] or 0) for row in rows),
        drop_gmv_cents=sum(int(row["gmv_cents"] or 0) for row in rows),
    )


async def _orders(
    session: AsyncSession, room_id: str, start: datetime, window: Window
) -> tuple[int, int, int, int]:
    earlier = aliased(CustomerOrder)
    # Bought before: an order of another session (or the CRM's) placed before this one began;
    # with ops' sessions, an earlier session of the same room counts too.
    other_session = (
        or_(earlier.room_id.is_(None), earlier.room_id != room_id) if window is None else true()
    )
    returning = exists().where(
        and_(
            earlier.customer_id == CustomerOrder.customer_id,
            earlier.status == PAID,
            earlier.ordered_at < start,
            other_session,
        )
    )
    query = select(
        func.count(),
        func.coalesce(func.sum(CustomerOrder.amount_cents), 0),
        func.count().filter(returning),
        func.coalesce(func.sum(CustomerOrder.amount_cents).filter(returning), 0),
    ).where(CustomerOrder.room_id == room_id, CustomerOrder.status == PAID)
    if window is not None:
        query = query.where(CustomerOrder.ordered_at.between(*window))
    row = (await session.execute(query)).one()
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


async def _coupons(session: AsyncSession, room_id: str, window: Window) -> tuple[int, int]:
    query = (
        select(
            func.count().filter(Grant.state.in_(PAID_STATES)),
            func.count().filter(Grant.state == REDEEMED),
        )
        .join(Campaign, Campaign.id == Grant.campaign_id)
        .where(Grant.room_id == room_id, Campaign.kind == "coupon")
    )
    if window is not None:
        query = query.where(Grant.created_at.between(*window))
    row = (await session.execute(query)).one()
    return int(row[0]), int(row[1])
