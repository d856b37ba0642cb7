"""Helpers for the promotions tests: established viewers, ops calls, and ledger reads."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from livedesk.core.clock import utcnow
from livedesk.core.db import commit, create_engine, session_factory
from livedesk.customers.models import Customer, CustomerIdentity
from livedesk.fulfilment.models import OutboxMessage
from livedesk.promotions.models import PAID_STATES, Campaign, Grant
from livedesk.roomlog.models import RoomLogEntry


async def seed_viewers(
    database_url: str,
    user_ids: list[str],
    *,
    age: timedelta = timedelta(hours=2),
    platform: str = "generic",
) -> None:
    """Viewers known for a while (the anti-abuse rules hold brand-new accounts)."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            first_seen = utcnow() - age
            for user_id in user_ids:
                customer = Customer(nickname=user_id, first_seen_at=first_seen)
                session.add(customer)
                await session.flush()
                session.add(
                    CustomerIdentity(
                        platform=platform, platform_user_id=user_id, customer_id=customer.id
                    )
                )
            await commit(session)
    finally:
        await engine.dispose()


def ops(token: str, key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


def rain_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "kind": "rain",
        "title": "整点红包雨",
        "budget_cents": 10_000,
        "quantity": 100,
        "countdown_s": 0,
        "duration_s": 600,
        "passphrase": "老铁666",
    }
    return {**body, **overrides}


async def start_rain(
    client: httpx.AsyncClient, room_id: str, token: str, **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/rooms/{room_id}/red-packets",
        json=rain_body(**overrides),
        headers=ops(token, uuid.uuid4().hex),
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


@dataclass
class Ledger:
    campaign: Campaign
    grants: list[Grant]
    outbox: list[OutboxMessage]


async def ledger_of(database_url: str, campaign_id: str) -> Ledger:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            campaign = await session.scalar(
                select(Campaign).where(Campaign.public_id == campaign_id)
            )
            assert campaign is not None
            grants = list(
                (await session.execute(select(Grant).where(Grant.campaign_id == campaign.id)))
                .scalars()
                .all()
            )
            paid = {f"grant_{g.public_id}" for g in grants if g.state in PAID_STATES}
            outbox = list(
                (
                    await session.execute(
                        select(OutboxMessage).where(
                            OutboxMessage.payload["campaign_id"].as_string() == campaign_id
                        )
                    )
                )
                .scalars()
                .all()
            )
            # Every paid grant has exactly one outgoing webhook, and nothing else has one.
            assert sorted(m.webhook_id for m in outbox) == sorted(paid)
            return Ledger(campaign, grants, outbox)
    finally:
        await engine.dispose()


async def log_types(database_url: str, room_id: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.execute(
                select(RoomLogEntry.type).where(RoomLogEntry.room_id == room_id)
            )
            return list(rows.scalars())
    finally:
        await engine.dispose()
