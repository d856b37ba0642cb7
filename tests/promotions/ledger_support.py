"""Helpers for tests that drive the ledger directly: people, running campaigns, row counts."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core.clock import utcnow
from livedesk.customers.models import Customer
from livedesk.fulfilment.models import OutboxMessage
from livedesk.promotions import service
from livedesk.promotions.models import PAID_STATES, Campaign, Grant
from livedesk.roomlog.models import RoomLogEntry


def new_room() -> str:
    return f"room-{uuid.uuid4().hex[:8]}"


async def add_people(session: AsyncSession, n: int) -> list[int]:
    people = [
        Customer(nickname=f"p{i}", first_seen_at=utcnow() - timedelta(hours=2)) for i in range(n)
    ]
    session.add_all(people)
    await session.flush()
    return [person.id for person in people]


def running_campaign(
    room_id: str,
    now: datetime,
    *,
    budget_cents: int,
    quantity: int,
    per_customer: int = 1,
    kind: str = "rain",
    config: dict[str, object] | None = None,
) -> Campaign:
    campaign = service.new_campaign(
        room_id,
        kind=kind,
        title="test drop",
        budget_cents=budget_cents,
        quantity=quantity,
        per_customer=per_customer,
        starts_at=now - timedelta(seconds=1),
        duration_s=3600,
        created_by="tester",
        config=config or {"passphrase": "666", "amount_cents": budget_cents // quantity},
    )
    assert service.advance(campaign, paused=False, now=now)
    return campaign


async def paid_grants(session: AsyncSession, campaign_id: int) -> list[Grant]:
    query = select(Grant).where(Grant.campaign_id == campaign_id, Grant.state.in_(PAID_STATES))
    return list((await session.execute(query)).scalars())


async def outbox_count(session: AsyncSession, room_id: str) -> int:
    query = select(func.count()).where(OutboxMessage.room_id == room_id)
    return int(await session.scalar(query) or 0)


async def log_count(session: AsyncSession, room_id: str) -> int:
    query = select(func.count()).where(RoomLogEntry.room_id == room_id)
    return int(await session.scalar(query) or 0)
