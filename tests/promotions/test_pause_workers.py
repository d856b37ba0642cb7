"""Pausing a room's drops on one worker stops them on every worker at once (PostgreSQL +
Redis, two real processes): both panels hear it, claims sent to the other
worker after the pause pay nothing, and after resuming they pay again."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from promo_support import ledger_of, ops, seed_viewers, start_rain
from workers_support import needs_scale_out, start_workers

from support import Panel, add_operator, event, open_panel, post_events, wait_processed

pytestmark = [pytest.mark.slow, needs_scale_out]
PASSPHRASE = "老铁666"


@pytest.fixture
async def two_workers(private_database_url, tmp_path):
    async for workers in start_workers(private_database_url, tmp_path):
        yield workers


def _promotion(state: str) -> Any:
    return lambda m: m.get("type") == "promotion" and m["data"]["state"] == state


async def _claim(client: httpx.AsyncClient, database_url: str, room_id: str, users: list[str]):
    said = [event(room_id, "comment", user, content=PASSPHRASE) for user in users]
    assert (await post_events(client, said)).status_code == 202
    await wait_processed(database_url, room_id)


async def _heard_by_all(panels: list[Panel], predicate: Any) -> None:
    # Pushed, not found by a later poll; how fast is the bench's business, not this test's.
    await asyncio.gather(*(panel.until(predicate, timeout_s=10) for panel in panels))


async def test_pause_on_one_worker_stops_claims_on_the_other(
    two_workers, private_database_url, room_id
):
    a, b = two_workers
    token = await add_operator(private_database_url)
    viewers = [f"pz-{uuid.uuid4().hex[:6]}-{i}" for i in range(6)]
    await seed_viewers(private_database_url, viewers)
    async with (
        httpx.AsyncClient(base_url=a.base_url, timeout=30) as to_a,
        httpx.AsyncClient(base_url=b.base_url, timeout=30) as to_b,
    ):
        assert (await post_events(to_a, [event(room_id, "enter", "host-seed")])).status_code == 202
        await wait_processed(private_database_url, room_id)
        panels = [await open_panel(w.ws_url, room_id, token) for w in (a, b)]
        for panel in panels:
            await panel.until(lambda m: m["type"] == "snapshot")
        rain = await start_rain(to_a, room_id, token, budget_cents=1000, quantity=10)
        await _claim(to_b, private_database_url, room_id, viewers[:1])  # running: pays
        assert len((await ledger_of(private_database_url, rain["campaign_id"])).grants) == 1

        paused = await to_a.post(
            f"/api/v1/rooms/{room_id}/promotions/pause", json={}, headers=ops(token)
        )
        assert paused.status_code == 200 and paused.json()["state"] == "paused"
        await _heard_by_all(panels, _promotion("paused"))
        await _claim(to_b, private_database_url, room_id, viewers[1:3])
        await _claim(to_a, private_database_url, room_id, viewers[3:4])
        ledger = await ledger_of(private_database_url, rain["campaign_id"])
        assert len(ledger.grants) == 1 and ledger.campaign.state == "paused"

        resumed = await to_b.post(
            f"/api/v1/rooms/{room_id}/promotions/resume", json={}, headers=ops(token)
        )
        assert resumed.status_code == 200 and resumed.json()["state"] == "running"
        await _heard_by_all(panels, _promotion("running"))
        await _claim(to_b, private_database_url, room_id, viewers[1:3])
        await _claim(to_a, private_database_url, room_id, viewers[4:6])
        for panel in panels:
            await panel.close()
    ledger = await ledger_of(private_database_url, rain["campaign_id"])
    assert len(ledger.grants) == 5 and ledger.campaign.state == "running"
    assert ledger.campaign.spent_cents == 500 and len(ledger.outbox) == 5
