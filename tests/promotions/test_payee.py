"""Every grant names its payee's own platform account (issue 21 point 2): a referral packet is
the inviter's, so the fulfilment webhook and GET …/grants carry the inviter's account, not the
buyer's; in a multi-cast room each payee's own platform. Real server, SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from promo_support import ledger_of, ops, seed_viewers
from sqlalchemy import select

from livedesk.core.db import create_engine, session_factory
from livedesk.promotions.models import Campaign
from support import add_operator, event, post_events, wait_processed


def _order(room_id: str, user: str, **order: Any) -> dict[str, Any]:
    body = {
        "order_id": f"o-{uuid.uuid4().hex[:10]}",
        "amount_cents": 9900,
        "items": [{"sku": "sku-1", "qty": 1, "price_cents": 9900}],
        "status": "paid",
        **order,
    }
    return event(room_id, "order", user, order=body)


async def _referral_campaign(database_url: str, room_id: str) -> str:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            found = await session.scalar(
                select(Campaign.public_id).where(
                    Campaign.room_id == room_id, Campaign.created_by == "rules:referral"
                )
            )
    finally:
        await engine.dispose()
    assert found is not None
    return str(found)


@pytest.mark.parametrize("platform", ["generic", "taobao"])
async def test_a_referral_packet_names_the_inviters_account(
    server, database_url, room_id, platform
):
    tag = uuid.uuid4().hex[:6]
    inviter, invitee = f"inviter-{tag}", f"invitee-{tag}"
    await seed_viewers(database_url, [inviter], platform=platform)
    token = await add_operator(database_url)
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        # The room is first seen on the generic platform; the referral happens there, or on
        # Taobao Live (the room is multi-cast; generic format on the taobao path).
        await post_events(client, [event(room_id, "enter", f"host-{tag}")])
        await wait_processed(database_url, room_id)
        response = await post_events(
            client, [_order(room_id, invitee, referrer=inviter)], platform=platform
        )
        assert response.status_code == 202, response.text
        await wait_processed(database_url, room_id)
        campaign = await _referral_campaign(database_url, room_id)
        ledger = await ledger_of(database_url, campaign)
        listed = await client.get(f"/api/v1/rooms/{room_id}/grants", headers=ops(token))
    assert listed.status_code == 200
    (grant,) = [g for g in listed.json()["grants"] if g["campaign_id"] == campaign]
    (message,) = ledger.outbox
    assert message.payload["platform_user_id"] == inviter  # was the invitee's (the buyer's)
    assert grant["platform_user_id"] == inviter
    assert message.payload["platform"] == grant["platform"] == platform
    assert message.payload["customer_id"] == grant["customer_id"]
