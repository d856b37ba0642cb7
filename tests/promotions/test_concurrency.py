"""A red-packet rain on two real worker processes (PostgreSQL + Redis): 200 viewers race for
100 packets through both workers, with duplicated and retried webhooks; and one person with
two linked platform accounts claiming through both workers at once."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from promo_support import ledger_of, seed_viewers, start_rain
from sqlalchemy import select
from workers_support import needs_scale_out, start_workers

from livedesk.core.db import create_engine, session_factory
from livedesk.customers.models import Customer
from livedesk.promotions.models import PAID_STATES
from support import add_operator, event, post_events, wait_processed

pytestmark = [pytest.mark.slow, needs_scale_out]
PASSPHRASE = "老铁666"


@pytest.fixture
async def two_workers(private_database_url, tmp_path):
    async for workers in start_workers(private_database_url, tmp_path):
        yield workers


async def _post(client: httpx.AsyncClient, batch: list[dict[str, Any]]) -> None:
    response = await post_events(client, batch)
    assert response.status_code == 202, response.text


async def _roots(database_url: str, customer_ids: list[int]) -> list[int]:
    """The surviving customer (person) behind each of these customer ids."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.execute(
                select(Customer.id, Customer.merged_into).where(Customer.id.in_(customer_ids))
            )
            root = {cid: merged or cid for cid, merged in rows.all()}
    finally:
        await engine.dispose()
    return [root[cid] for cid in customer_ids]


async def test_rain_on_two_workers_pays_exactly_the_budget(
    two_workers, private_database_url, room_id
):
    a, b = two_workers
    token = await add_operator(private_database_url)
    viewers = [f"rain-{uuid.uuid4().hex[:6]}-{i}" for i in range(200)]
    await seed_viewers(private_database_url, viewers)
    comments = [event(room_id, "comment", user, content=PASSPHRASE) for user in viewers]
    # Retries: the same person says the passphrase again (a new event), through either worker.
    retries = [
        event(room_id, "comment", user, content=PASSPHRASE) for user in random.sample(viewers, 50)
    ]
    batches = [comments[i : i + 10] for i in range(0, len(comments), 10)]
    batches += [retries[i : i + 10] for i in range(0, len(retries), 10)]
    # Duplicated webhooks: the very same events delivered again, to the other worker.
    duplicates = random.sample(batches, 8)
    async with (
        httpx.AsyncClient(base_url=a.base_url, timeout=30) as to_a,
        httpx.AsyncClient(base_url=b.base_url, timeout=30) as to_b,
    ):
        await _post(to_a, [event(room_id, "enter", "host-seed")])
        await wait_processed(private_database_url, room_id)
        rain = await start_rain(to_a, room_id, token, budget_cents=10_000, quantity=100)
        sends = [_post(to_a if i % 2 else to_b, batch) for i, batch in enumerate(batches)]
        sends += [_post(to_b if i % 2 else to_a, batch) for i, batch in enumerate(duplicates)]
        random.shuffle(sends)
        await asyncio.gather(*sends)
        await wait_processed(private_database_url, room_id, timeout_s=60)
    # Also: one outbox row per grant.
    ledger = await ledger_of(private_database_url, rain["campaign_id"])
    paid = [g for g in ledger.grants if g.state in PAID_STATES]
    assert len(paid) == len(ledger.grants) == 100  # nobody held, nobody paid twice
    assert ledger.campaign.spent_cents == sum(g.amount_cents for g in paid) == 10_000
    assert ledger.campaign.granted_count == 100 and ledger.campaign.state == "ended"
    assert max(Counter(g.customer_id for g in paid).values()) == 1
    assert len(ledger.outbox) == 100
    assert len({m.payload["grant_id"] for m in ledger.outbox}) == 100


async def test_two_linked_accounts_through_two_workers_get_one_packet(
    two_workers, private_database_url, room_id
):
    a, b = two_workers
    token = await add_operator(private_database_url)
    people = [
        (f"lk-{uuid.uuid4().hex[:6]}-a{i}", f"lk-{uuid.uuid4().hex[:6]}-b{i}", link)
        for i, link in enumerate(["union_id", "phone_hash"] * 3)
    ]
    for first, second, _link in people:
        await seed_viewers(private_database_url, [second])  # the second account's customer is older
        await seed_viewers(private_database_url, [first])
    # A phone hash is a SHA-256 in hex (the webhook refuses anything else).
    links = {
        first: {link: uuid.uuid4().hex * 2 if link == "phone_hash" else f"{link}-{uuid.uuid4()}"}
        for first, _s, link in people
    }
    async with (
        httpx.AsyncClient(base_url=a.base_url, timeout=30) as to_a,
        httpx.AsyncClient(base_url=b.base_url, timeout=30) as to_b,
    ):
        await _post(to_a, [event(room_id, "enter", "host-seed")])
        await wait_processed(private_database_url, room_id)
        # Each account shows its union_id / phone_hash once, through its own worker: linked.
        for first, second, _link in people:
            for client, user in ((to_a, first), (to_b, second)):
                await _post(client, [event(room_id, "enter", user, user_extra=links[first])])
                await wait_processed(private_database_url, room_id)
        rain = await start_rain(to_a, room_id, token, budget_cents=2_000, quantity=20)
        sends = []
        for first, second, _link in people:
            for client, user in ((to_a, first), (to_b, second), (to_b, first), (to_a, second)):
                said = event(room_id, "comment", user, content=PASSPHRASE, user_extra=links[first])
                sends.append(_post(client, [said]))
        random.shuffle(sends)
        await asyncio.gather(*sends)
        await wait_processed(private_database_url, room_id, timeout_s=60)
    ledger = await ledger_of(private_database_url, rain["campaign_id"])
    roots = await _roots(private_database_url, [g.customer_id for g in ledger.grants])
    assert len(ledger.grants) == len(people)
    assert sorted(Counter(roots).values()) == [1] * len(people), "one packet per person"
