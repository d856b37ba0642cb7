"""What ops read about a room's drops: campaigns with their figures, held claims, grants."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.promotions import service
from livedesk.promotions.messages import campaign_message
from livedesk.promotions.models import HELD, Campaign, Grant


async def campaigns(session: AsyncSession, room_id: str) -> list[dict[str, Any]]:
    """Every drop of the room with its budget burn-down, grants, holds and approval state."""
    found = list(
        (
            await session.execute(
                select(Campaign).where(Campaign.room_id == room_id).order_by(Campaign.id)
            )
        ).scalars()
    )
    redeemed = await service.redeemed_counts(session, [c.id for c in found])
    held = await held_counts(session, [c.id for c in found])
    return [
        {
            **campaign_message(c, redeemed=redeemed.get(c.id, 0)).data,
            "source": "coupon" if c.kind == "coupon" else "red_packet",
            "budget_cents": c.budget_cents,
            "spent_cents": c.spent_cents,
            "granted": c.granted_count,
            "held": held.get(c.id, 0),
            "created_by": c.created_by,
            "approved_by": c.approved_by,
        }
        for c in found
    ]


async def held_counts(session: AsyncSession, campaign_ids: list[int]) -> dict[int, int]:
    if not campaign_ids:
        return {}
    rows = await session.execute(
        select(Grant.campaign_id, func.count())
        .where(Grant.campaign_id.in_(campaign_ids), Grant.state == HELD)
        .group_by(Grant.campaign_id)
    )
    return {campaign_id: int(n) for campaign_id, n in rows.all()}


async def held_claims(session: AsyncSession, room_id: str) -> list[dict[str, Any]]:
    """Claims the anti-abuse rules held, with the reason, oldest first."""
    rows = await session.execute(
        select(Grant, Campaign.public_id, Campaign.title)
        .join(Campaign, Campaign.id == Grant.campaign_id)
        .where(Grant.room_id == room_id, Grant.state == HELD)
        .order_by(Grant.id)
    )
    return [
        {
            "claim_id": grant.public_id,
            "campaign_id": public_id,
            "campaign_title": title,
            "customer_id": grant.customer_id,
            "platform": grant.platform,
            "platform_user_id": grant.platform_user_id,
            "amount_cents": grant.amount_cents,
            "reason": grant.reason,
            "created_at": grant.created_at.isoformat(),
        }
        for grant, public_id, title in rows.all()
    ]


async def grants_page(
    session: AsyncSession, room_id: str, *, after: int, state: str | None, limit: int
) -> dict[str, Any]:
    """Grants after the id `after`, oldest first: who got what, and the id an order names as
    its `coupon_id` when the grant is used; `next_after` continues the listing."""
    query = (
        select(Grant, Campaign)
        .join(Campaign, Campaign.id == Grant.campaign_id)
        .where(Grant.room_id == room_id, Grant.id > after)
        .order_by(Grant.id)
        .limit(limit)
    )
    if state is not None:
        query = query.where(Grant.state == state)
    rows = (await session.execute(query)).all()
    return {
        "grants": [_grant(grant, campaign) for grant, campaign in rows],
        "next_after": rows[-1][0].id if rows else after,
    }


def _grant(grant: Grant, campaign: Campaign) -> dict[str, Any]:
    item: dict[str, Any] = {
        "grant_id": grant.public_id,
        "campaign_id": campaign.public_id,
        "kind": campaign.kind,
        "title": campaign.title,
        "customer_id": grant.customer_id,
        "platform": grant.platform,
        "platform_user_id": grant.platform_user_id,
        "amount_cents": grant.amount_cents,
        "state": grant.state,
        "created_at": grant.created_at.isoformat(),
        "redeemed_order_id": grant.redeemed_order_id,
        "rules_version": grant.rules_version,
    }
    if campaign.kind == "coupon":
        config = campaign.config or {}
        item["threshold_cents"] = config.get("threshold_cents", 0)
        item["expires_at"] = campaign.ends_at.isoformat()
    return item
