"""Outbox queries on a real database (SQLite and PostgreSQL), with the clock passed in: claims
lease rows to one taker, a lease that ran out (a crashed sender) frees the row, outcomes are
fenced by the attempt number, and only dead rows go back to pending."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from fulfilment_support import enqueue_rows
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from livedesk.core.db import create_engine, session_factory
from livedesk.fulfilment import repository
from livedesk.fulfilment.models import DEAD, DELIVERED, PENDING, OutboxMessage

LEASE_S = 30.0


@pytest.fixture
async def sessions(db: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(db)
    yield session_factory(engine)
    await engine.dispose()


async def _claim(sessions, at, limit=10) -> list[repository.Claimed]:
    async with sessions() as session:
        claimed = await repository.claim_due(session, at, limit=limit, lease_s=LEASE_S)
        await session.commit()
        return claimed


async def _row(sessions, message_id: int) -> OutboxMessage:
    async with sessions() as session:
        row = await session.get(OutboxMessage, message_id)
        assert row is not None
        return row


async def _now(sessions):
    async with sessions() as session:
        return await repository.clock(session)


async def test_a_claim_leases_rows_to_one_taker_until_the_lease_ends(db, sessions, room_id):
    ids = await enqueue_rows(db, room_id, 3)
    now = await _now(sessions) + timedelta(seconds=1)

    first = await _claim(sessions, now, limit=2)
    second = await _claim(sessions, now)
    assert (len(first), len(second)) == (2, 1)  # never more than asked for
    assert [c.webhook_id for c in first + second] == ids  # oldest due first
    assert {c.attempt for c in first + second} == {1}
    assert await _claim(sessions, now + timedelta(seconds=LEASE_S - 1)) == []
    row = await _row(sessions, first[0].id)
    assert row.state == PENDING and row.attempts == 1
    assert row.next_attempt_at == now + timedelta(seconds=LEASE_S)

    # Nobody recorded an outcome (the sender died mid-POST): the rows come back, attempt 2.
    again = await _claim(sessions, now + timedelta(seconds=LEASE_S))
    assert [c.webhook_id for c in again] == ids and {c.attempt for c in again} == {2}
    assert again[0].payload == first[0].payload and again[0].created_at == first[0].created_at


async def test_rows_not_due_delivered_or_dead_are_never_claimed(db, sessions, room_id):
    later, delivered, dead = await enqueue_rows(db, room_id, 3)
    now = await _now(sessions) + timedelta(seconds=1)
    async with sessions() as session:
        for webhook_id, values in (
            (later, {"next_attempt_at": now + timedelta(minutes=5)}),
            (delivered, {"state": DELIVERED}),
            (dead, {"state": DEAD}),
        ):
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.webhook_id == webhook_id).values(values)
            )
        await session.commit()
        assert not await repository.any_due(session, now)
    assert await _claim(sessions, now) == []
    assert [c.webhook_id for c in await _claim(sessions, now + timedelta(minutes=5))] == [later]


async def test_outcomes_are_fenced_by_the_attempt_number(db, sessions, room_id):
    await enqueue_rows(db, room_id, 1)
    now = await _now(sessions) + timedelta(seconds=1)
    (old,) = await _claim(sessions, now)
    (new,) = await _claim(sessions, now + timedelta(seconds=LEASE_S))  # old's lease ran out
    leased_until = (await _row(sessions, new.id)).next_attempt_at

    async with sessions() as session:
        # A late failure of the old attempt neither shortens the new lease nor kills the row.
        assert not await repository.mark_failed(
            session, old.id, old.attempt, dead=True, next_attempt_at=now, error="late"
        )
        assert await repository.mark_failed(
            session, new.id, new.attempt, dead=True, next_attempt_at=now, error="HTTP 500"
        )
        await session.commit()
    row = await _row(sessions, new.id)
    assert (row.state, row.attempts, row.last_error) == (DEAD, 2, "HTTP 500")
    assert leased_until != row.next_attempt_at

    async with sessions() as session:
        assert await repository.requeue_dead(session, row.id, now)
        assert not await repository.requeue_dead(session, row.id, now)  # pending now
        await session.commit()
    (retried,) = await _claim(sessions, now + timedelta(seconds=LEASE_S))
    assert retried.attempt == 3

    async with sessions() as session:
        assert await repository.mark_delivered(session, row.id, now)
        assert not await repository.mark_delivered(session, row.id, now)
        # Delivered is final: a failure of any attempt cannot reopen it, nor can ops.
        assert not await repository.mark_failed(
            session, row.id, 3, dead=False, next_attempt_at=now, error="late"
        )
        assert not await repository.requeue_dead(session, row.id, now)
        await session.commit()
    row = await _row(sessions, row.id)
    assert row.state == DELIVERED and row.delivered_at == now and row.last_error is None
    assert await _claim(sessions, now + timedelta(days=1)) == []


async def test_counts_dead_letters_and_backlog(db, sessions, room_id):
    ids = await enqueue_rows(db, room_id, 4)
    await enqueue_rows(db, "another-room", 2)
    async with sessions() as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.webhook_id.in_(ids[:2]))
            .values(state=DEAD, last_error="HTTP 503")
        )
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.webhook_id == ids[2]).values(state=DELIVERED)
        )
        await session.commit()
        assert await repository.room_counts(session, room_id) == {
            PENDING: 1,
            DELIVERED: 1,
            DEAD: 2,
        }
        assert await repository.room_counts(session, "nowhere") == {
            PENDING: 0,
            DELIVERED: 0,
            DEAD: 0,
        }
        letters = await repository.dead_letters(session, room_id, limit=10)
        assert [m.webhook_id for m in letters] == [ids[1], ids[0]]  # newest first
        assert len(await repository.dead_letters(session, room_id, limit=1)) == 1
        assert await repository.backlog(session) == {PENDING: 3, DEAD: 2}
        found = await repository.find(session, room_id, ids[0])
        assert found is not None and found.state == DEAD
        assert await repository.find(session, "another-room", ids[0]) is None
