"""Concurrent overlapping batches — a platform retrying a batch while the first attempt is
still in flight, in another order, or in parts — are all answered 202, every event stored once.
On PostgreSQL two transactions inserting the same keys in different orders each waited for the
other's row ("deadlock detected", or the lock timeout): answered 503 now and then. SQLite has
one writer, so this can only pass there; it is run there for the same answers.

The server waits up to 10 s for a write (not the 1 s fast refusal): a busy machine must not
turn into a 503 here, while a deadlock still is one (PostgreSQL detects it after 1 s)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core.db import commit, create_engine, session_factory
from livedesk.customers.service import identify_batch
from livedesk.ingest import repository as inbox
from livedesk.ingest.models import InboxEvent
from livedesk.ingest.schemas import Event
from support import event, post_events, run_server, settings_for

TRIALS = 20
CONCURRENT = 4
EVENTS = 60


async def test_overlapping_batches_in_any_order_never_deadlock(private_database_url, room_id):
    shuffler = random.Random(15)
    settings = settings_for(private_database_url, webhook_write_timeout_s=10)
    async with (
        run_server(settings) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=60) as client,
    ):
        for trial in range(TRIALS):
            batch = [
                event(f"{room_id}-{trial % 3}", "comment", f"u{i}", content=f"第{i}条")
                for i in range(EVENTS)
            ]
            # The batch, the batch reversed (they meet in the middle), and parts of it.
            attempts = [batch, batch[::-1]]
            for _ in range(CONCURRENT - 2):
                attempts.append(shuffler.sample(batch, k=shuffler.randint(EVENTS // 2, EVENTS)))
            responses = await asyncio.gather(*(post_events(client, a) for a in attempts))
            statuses = [response.status_code for response in responses]
            assert statuses == [202] * CONCURRENT, (trial, [r.text for r in responses])
            assert sum(response.json()["accepted"] for response in responses) == EVENTS


async def test_events_keep_the_order_they_were_sent_in(server, database_url, room_id):
    """Stored in key order, but the pipeline reads the inbox in id order: ids follow arrival."""
    sent = [
        event(room_id, "comment", id=f"{room_id}-{letter}", content=letter) for letter in "zyxa"
    ]
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        assert (await post_events(client, sent)).json()["accepted"] == 4
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            query = select(InboxEvent.event_id).where(InboxEvent.room_id == room_id)
            stored = list((await session.execute(query.order_by(InboxEvent.id))).scalars())
    finally:
        await engine.dispose()
    assert stored == [item["id"] for item in sent]


async def _race(*jobs: Callable[[AsyncSession], Awaitable[object]], url: str) -> list[object]:
    """Run each job in a transaction of its own, all at once, and commit each."""
    engine = create_engine(url)
    sessions = session_factory(engine)

    async def run(job: Callable[[AsyncSession], Awaitable[object]]) -> object:
        async with sessions() as session:
            result = await job(session)
            await commit(session)
            return result

    try:
        return await asyncio.gather(*(run(job) for job in jobs))
    finally:
        await engine.dispose()


async def test_the_inbox_takes_overlapping_batches_in_opposite_orders(database_url, room_id):
    for trial in range(5):
        records = [
            event(room_id, "comment", f"u{i}", id=f"{room_id}-{trial}-{i:04}", content="在")
            for i in range(500)
        ]
        stored = await _race(
            partial(inbox.store_events, platform="generic", records=records),
            partial(inbox.store_events, platform="generic", records=records[::-1]),
            url=database_url,
        )
        assert set().union(*stored) == {(room_id, record["id"]) for record in records}


async def test_new_viewers_seen_by_two_rooms_in_opposite_orders(database_url, room_id):
    now = datetime.now(UTC)
    for trial in range(5):
        users = [f"{room_id}-{trial}-{i:04}" for i in range(300)]
        first, second = (
            [Event.from_record(event(room, "enter", user), platform="generic") for user in order]
            for room, order in ((f"{room_id}-a", users), (f"{room_id}-b", users[::-1]))
        )
        answers = await _race(
            partial(identify_batch, events=first, now=now),
            partial(identify_batch, events=second, now=now),
            url=database_url,
        )
        by_user = [
            {e.user.id: a.customer_id for e, a in zip(batch, found, strict=True) if e.user and a}
            for batch, found in ((first, answers[0]), (second, answers[1]))
        ]
        assert by_user[0] == by_user[1]  # one customer per account, whichever room was first
