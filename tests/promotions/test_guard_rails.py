"""Money guard rails (issue 21 point 8) on a real server, SQLite and PostgreSQL: an operator's
drops in a session add up towards approval, all ops' drops towards a session cap, and an
Idempotency-Key is its operator's, not everyone's. (The alert on a dead fulfilment delivery
is tested with the outbox.)"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from promo_support import ops, rain_body
from sqlalchemy import select

from livedesk.core.db import create_engine, session_factory
from livedesk.rooms.models import AuditEntry
from support import add_operator, event, post_events, wait_processed


async def _rain(client: httpx.AsyncClient, room: str, token: str, **body: Any) -> httpx.Response:
    return await client.post(
        f"/api/v1/rooms/{room}/red-packets",
        json=rain_body(**body),
        headers=ops(token, uuid.uuid4().hex),
    )


async def test_an_operators_drops_add_up_and_the_session_has_a_cap(server, database_url, room_id):
    a, b, c = [await add_operator(database_url) for _ in range(3)]
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        await post_events(client, event(room_id, "enter", "host-seed"))
        await wait_processed(database_url, room_id)
        # Each ¥1,000, at the per-drop threshold (above it needs approval): a's first three
        # come to ¥3,000, the rules' cumulative threshold; the fourth takes a to ¥4,000.
        states = [(await _rain(client, room_id, a, budget_cents=100_000)).json()["state"]]
        states += [(await _rain(client, room_id, a, budget_cents=100_000)).json()["state"]]
        states += [(await _rain(client, room_id, a, budget_cents=100_000)).json()["state"]]
        fourth = await _rain(client, room_id, a, budget_cents=100_000)
        assert fourth.status_code == 201
        assert "pending_approval" not in states and fourth.json()["state"] == "pending_approval"
        # b's own drops are b's: a ¥1,000 one goes out at once.
        other = await _rain(client, room_id, b, budget_cents=100_000)
        assert other.json()["state"] != "pending_approval"
        # The session so far may spend ¥5,000; c's ¥16,000 coupon batch would pass ¥20,000.
        coupon = {"title": "大额券", "value_cents": 16_000, "quantity": 100}
        refused = await client.post(
            f"/api/v1/rooms/{room_id}/coupons", json=coupon, headers=ops(c, uuid.uuid4().hex)
        )
        assert refused.status_code == 422 and "本场上限 ¥20,000.00" in refused.json()["error"]
        # b rejects a's fourth drop: it no longer counts, and c's batch fits (¥20,000 in all);
        # on its own it is above the coupons' threshold and waits for approval.
        rejected = await client.post(
            f"/api/v1/rooms/{room_id}/campaigns/{fourth.json()['campaign_id']}/reject",
            headers=ops(b),
        )
        assert rejected.status_code == 200
        fits = await client.post(
            f"/api/v1/rooms/{room_id}/coupons", json=coupon, headers=ops(c, uuid.uuid4().hex)
        )
        assert fits.status_code == 201 and fits.json()["state"] == "pending_approval"
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            details = list(
                (
                    await session.execute(
                        select(AuditEntry.detail).where(
                            AuditEntry.room_id == room_id, AuditEntry.detail.is_not(None)
                        )
                    )
                ).scalars()
            )
    finally:
        await engine.dispose()
    assert any("come to ¥4,000.00, above ¥3,000.00" in d for d in details)


async def test_an_idempotency_key_is_its_operators(server, database_url, room_id):
    a, b = await add_operator(database_url), await add_operator(database_url)
    key = uuid.uuid4().hex
    path = f"/api/v1/rooms/{room_id}/red-packets"
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        await post_events(client, event(room_id, "enter", "host-seed"))
        await wait_processed(database_url, room_id)
        first = await client.post(path, json=rain_body(), headers=ops(a, key))
        again = await client.post(path, json=rain_body(), headers=ops(a, key))
        # Another operator who happens to send the same key acts for themselves: a drop of
        # their own (before: a's answer, and no drop).
        theirs = await client.post(path, json=rain_body(), headers=ops(b, key))
        listed = await client.get(f"/api/v1/rooms/{room_id}/campaigns", headers=ops(a))
    assert first.status_code == again.status_code == theirs.status_code == 201
    assert again.json()["campaign_id"] == first.json()["campaign_id"]
    assert theirs.json()["campaign_id"] != first.json()["campaign_id"]
    rains = [c for c in listed.json()["campaigns"] if c["kind"] == "rain"]
    assert (
        sorted(c["created_by"] for c in rains) == sorted({c["created_by"] for c in rains})
        and len(rains) == 2
    )
