"""Campaign lifecycle: creating drops (by ops or by rules), moving them through announced →
running → ended on time, pausing and resuming a room's drops. Flushes, never commits."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core.db import one_of
from livedesk.promotions.messages import campaign_message
from livedesk.promotions.models import (
    ACTIVE_STATES,
    ANNOUNCED,
    ENDED,
    PAUSED,
    PENDING_APPROVAL,
    REDEEMED,
    RUNNING,
    Campaign,
    Grant,
)
from livedesk.roomlog.messages import Message
from livedesk.rulebook.promotions import CouponOffer, CouponRules, RedPacketRules

RULE_CREATOR = "rules:"


def new_campaign(
    room_id: str,
    *,
    kind: str,
    title: str,
    budget_cents: int,
    quantity: int,
    starts_at: datetime,
    duration_s: int,
    created_by: str,
    config: dict[str, Any],
    per_customer: int = 1,
    needs_approval: bool = False,
) -> Campaign:
    prefix = "cp" if kind == "coupon" else "rp"
    return Campaign(
        public_id=f"{prefix}c_{uuid.uuid4().hex[:16]}",
        room_id=room_id,
        kind=kind,
        title=title,
        state=PENDING_APPROVAL if needs_approval else ANNOUNCED,
        config=config,
        budget_cents=budget_cents,
        spent_cents=0,
        quantity=quantity,
        granted_count=0,
        per_customer=per_customer,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(seconds=duration_s),
        created_by=created_by,
    )


def coupon_config(offer: CouponOffer) -> dict[str, Any]:
    """The campaign's stored settings: the offer's fields that are set."""
    return offer.model_dump(include=set(CouponOffer.model_fields), exclude_none=True)


def coupon_budget(value_cents: int | None, quantity: int) -> int:
    """A coupon's budget is its face value times its quantity (a discount has no fixed cost)."""
    return (value_cents or 0) * quantity


async def active_campaigns(session: AsyncSession, room_id: str) -> list[Campaign]:
    query = (
        select(Campaign)
        .where(Campaign.room_id == room_id, Campaign.state.in_(ACTIVE_STATES))
        .order_by(Campaign.id)
        .execution_options(populate_existing=True)
    )
    return list((await session.execute(query)).scalars())


async def seed_automatic(
    session: AsyncSession,
    room_id: str,
    red_packets: RedPacketRules,
    coupons: CouponRules,
    now: datetime,
) -> list[Campaign]:
    """Create the rules' automatic drops in a room that does not have them yet."""
    existing = set(
        (
            await session.execute(
                select(Campaign.created_by).where(
                    Campaign.room_id == room_id, Campaign.created_by.startswith(RULE_CREATOR)
                )
            )
        ).scalars()
    )
    created: list[Campaign] = []
    for template in red_packets.templates:
        if not template.auto or f"{RULE_CREATOR}{template.id}" in existing:
            continue
        config = template.model_dump(
            include={"steps", "trigger", "min_cents", "max_cents", "min_dwell_s", "keyword"}
            | {"points_cost", "amount_cents"}
        )
        created.append(
            new_campaign(
                room_id,
                kind=template.kind,
                title=template.title,
                budget_cents=template.budget_cents,
                quantity=template.quantity,
                per_customer=template.per_customer,
                starts_at=now,
                duration_s=template.duration_s,
                created_by=f"{RULE_CREATOR}{template.id}",
                config=config,
            )
        )
    for coupon in coupons.templates:
        if not coupon.auto or f"{RULE_CREATOR}{coupon.id}" in existing:
            continue
        created.append(
            new_campaign(
                room_id,
                kind="coupon",
                title=coupon.title,
                budget_cents=coupon_budget(coupon.value_cents, coupon.quantity),
                quantity=coupon.quantity,
                starts_at=now,
                duration_s=coupon.duration_s,
                created_by=f"{RULE_CREATOR}{coupon.id}",
                config=coupon_config(coupon),
            )
        )
    session.add_all(created)
    return created


def advance(campaign: Campaign, *, paused: bool, now: datetime) -> bool:
    """Move one campaign to the state the clock, its quantity and the room's pause say.
    Returns True when the state changed (panels need to hear of it)."""
    before = campaign.state
    if before not in ACTIVE_STATES:
        return False
    if now >= campaign.ends_at or campaign.granted_count >= campaign.quantity:
        campaign.state = ENDED
    elif paused:
        campaign.state = PAUSED if before == RUNNING or now >= campaign.starts_at else before
    elif now >= campaign.starts_at:
        campaign.state = RUNNING
    else:
        campaign.state = ANNOUNCED
    return campaign.state != before


def advance_all(campaigns: Iterable[Campaign], *, paused: bool, now: datetime) -> list[Campaign]:
    return [campaign for campaign in campaigns if advance(campaign, paused=paused, now=now)]


def next_due(campaigns: Iterable[Campaign]) -> datetime | None:
    """When the next of these campaigns starts or ends on its own."""
    times = [
        campaign.starts_at if campaign.state == ANNOUNCED else campaign.ends_at
        for campaign in campaigns
        if campaign.state in ACTIVE_STATES
    ]
    return min(times, default=None)


async def set_paused(
    session: AsyncSession, room_id: str, *, paused: bool, now: datetime
) -> list[Message]:
    """Pause or resume every drop of a locked room; the messages say what changed."""
    changed = advance_all(await active_campaigns(session, room_id), paused=paused, now=now)
    await session.flush()
    return [campaign_message(campaign) for campaign in changed]


async def redeemed_counts(session: AsyncSession, campaign_ids: Sequence[int]) -> dict[int, int]:
    if not campaign_ids:
        return {}
    query = (
        select(Grant.campaign_id, func.count())
        .where(one_of(session, Grant.campaign_id, campaign_ids), Grant.state == REDEEMED)
        .group_by(Grant.campaign_id)
    )
    return {campaign_id: int(n) for campaign_id, n in (await session.execute(query)).all()}


def approve(campaign: Campaign, operator: str, now: datetime) -> None:
    """A second operator approves a drop: its countdown starts now, not at its creation, and
    it runs for the duration it was created with."""
    countdown = campaign.starts_at - campaign.created_at
    duration = campaign.ends_at - campaign.starts_at
    campaign.starts_at = now.replace(microsecond=0) + max(countdown, timedelta(0))
    campaign.ends_at = campaign.starts_at + duration
    campaign.state = ANNOUNCED
    campaign.approved_by = operator
