"""The review's `drops` part: per drop, claimed → used → GMV, and who used them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.customers.models import CustomerOrder
from livedesk.promotions.models import PAID_STATES, REDEEMED, Campaign, Grant


async def drops(
    session: AsyncSession, room_id: str, window: tuple[datetime, datetime] | None = None
) -> dict[str, Any]:
    """A report part (see `app.state.report_parts`): one row per drop of the room (started
    within `window`, a session's start and end, when given)."""
    query = select(Campaign).where(Campaign.room_id == room_id).order_by(Campaign.id)
    if window is not None:
        query = query.where(Campaign.created_at.between(*window))
    campaigns = (await session.execute(query)).scalars()
    # A buyer is returning when they had a paid order before the grant was made.
    bought_before = exists().where(
        and_(
            CustomerOrder.customer_id == Grant.customer_id,
            CustomerOrder.ordered_at < Grant.created_at,
            CustomerOrder.status == "paid",
        )
    )
    stats_query = (
        select(
            Grant.campaign_id,
            func.count().filter(Grant.state.in_(PAID_STATES)),
            func.count().filter(Grant.state == REDEEMED),
            func.coalesce(func.sum(Grant.redeemed_gmv_cents), 0),
            func.coalesce(func.sum(Grant.amount_cents).filter(Grant.state == REDEEMED), 0),
            func.count().filter(Grant.state == REDEEMED, bought_before),
        )
        .where(Grant.room_id == room_id)
        .group_by(Grant.campaign_id)
    )
    stats: dict[int, tuple[int, ...]] = {
        row[0]: tuple(int(value or 0) for value in row[1:])
        for row in (await session.execute(stats_query)).all()
    }
    rows: list[dict[str, Any]] = []
    for campaign in campaigns:
        claimed, redeemed, gmv, used_value, returning = stats.get(campaign.id, (0, 0, 0, 0, 0))
        # A red packet costs what was paid out; a coupon what was used of its face value.
        cost = used_value if campaign.kind == "coupon" else campaign.spent_cents
        rows.append(
            {
                "id": campaign.public_id,
                "kind": campaign.kind,
                "title": campaign.title,
                "state": campaign.state,
                "claimed": claimed,
                "redeemed": redeemed,
                "redeemed_returning": returning,
                "redeemed_new": redeemed - returning,
                "cost_cents": cost,
                "gmv_cents": gmv,
                "roi": round(gmv / cost, 2) if cost else None,
            }
        )
    return {"drops": rows}
