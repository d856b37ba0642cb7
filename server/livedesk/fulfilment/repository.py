"""Outbox queries: claim due rows under a lease, record outcomes, and what ops look at.

Callers own the transaction (the sender commits each claim and each outcome on its own).
Times come from `clock()`: the database's on PostgreSQL, so workers on several hosts compare
leases against one clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core.clock import ensure_aware, utcnow
from livedesk.core.db import is_postgres
from livedesk.fulfilment.models import DEAD, DELIVERED, PENDING, OutboxMessage


@dataclass(frozen=True, slots=True)
class Claimed:
    """A row taken for one attempt: a plain snapshot, used after its transaction has ended."""

    id: int
    webhook_id: str
    kind: str
    payload: dict[str, Any]
    created_at: datetime
    attempt: int  # this attempt's number; also the fencing token for recording its outcome
    room_id: str | None = None  # for log lines about it


async def clock(session: AsyncSession) -> datetime:
    if is_postgres(session):
        now = await session.scalar(select(func.now()))
        assert now is not None
        return ensure_aware(now)
    return utcnow()  # SQLite: one process, one clock


async def any_due(session: AsyncSession, now: datetime) -> bool:
    """A read-only look first, so an idle sender never takes SQLite's write lock."""
    found = await session.scalar(
        select(OutboxMessage.id)
        .where(OutboxMessage.state == PENDING, OutboxMessage.next_attempt_at <= now)
        .limit(1)
    )
    return found is not None


async def claim_due(
    session: AsyncSession, now: datetime, *, limit: int, lease_s: float
) -> list[Claimed]:
    """Take up to `limit` due rows: count the attempt and move `next_attempt_at` past the lease,
    so no other worker takes them until the lease ends.

    Two statements, on purpose. The SELECT locks the rows it picks and skips those another
    worker is claiming right now (PostgreSQL `FOR UPDATE SKIP LOCKED`; SQLite has one writer).
    Folded into the UPDATE as `id IN (subquery)`, PostgreSQL may plan the subquery as the inner
    side of a nested loop and run it again per row, each run skipping rows the statement itself
    just updated: far more than `limit` rows get claimed. The UPDATE re-checks that each row is
    still due, so a row claimed meanwhile (SQLite reads without a lock) is not claimed twice.
    """
    picked = await session.execute(
        select(OutboxMessage.id)
        .where(OutboxMessage.state == PENDING, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at)  # the partial index's order: no sort
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(picked.scalars())
    if not ids:
        return []
    rows = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(ids),
            OutboxMessage.state == PENDING,
            OutboxMessage.next_attempt_at <= now,
        )
        .values(
            attempts=OutboxMessage.attempts + 1,
            next_attempt_at=now + timedelta(seconds=lease_s),
        )
        .returning(
            OutboxMessage.id,
            OutboxMessage.webhook_id,
            OutboxMessage.kind,
            OutboxMessage.payload,
            OutboxMessage.created_at,
            OutboxMessage.attempts,
            OutboxMessage.room_id,
        )
        .execution_options(synchronize_session=False)
    )
    order = {message_id: n for n, message_id in enumerate(ids)}
    return sorted((Claimed(*row) for row in rows.all()), key=lambda claim: order[claim.id])


async def mark_delivered(session: AsyncSession, message_id: int, now: datetime) -> bool:
    """The receiver answered 2xx. Delivered is final, whichever attempt heard it."""
    done = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.state != DELIVERED)
        .values(state=DELIVERED, delivered_at=now, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(done) == 1


async def mark_failed(
    session: AsyncSession,
    message_id: int,
    attempt: int,
    *,
    dead: bool,
    next_attempt_at: datetime,
    error: str,
) -> bool:
    """Schedule the next try (or give up). Fenced by the attempt number: a late answer to an
    older attempt changes nothing, so it can neither shorten a newer lease nor undo delivery."""
    failed = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.state == PENDING,
            OutboxMessage.attempts == attempt,
        )
        .values(state=DEAD if dead else PENDING, next_attempt_at=next_attempt_at, last_error=error)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(failed) == 1


async def requeue_dead(session: AsyncSession, message_id: int, now: datetime) -> bool:
    """Ops' manual retry: a dead row is due again now. Only dead rows: a pending one may be
    in flight under its lease, and making it due would let a second worker send it too."""
    moved = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.state == DEAD)
        .values(state=PENDING, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(moved) == 1


async def find(session: AsyncSession, room_id: str, webhook_id: str) -> OutboxMessage | None:
    return await session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.room_id == room_id, OutboxMessage.webhook_id == webhook_id
        )
    )


async def room_counts(session: AsyncSession, room_id: str) -> dict[str, int]:
    rows = await session.execute(
        select(OutboxMessage.state, func.count())
        .where(OutboxMessage.room_id == room_id)
        .group_by(OutboxMessage.state)
    )
    counts = {PENDING: 0, DELIVERED: 0, DEAD: 0}
    counts.update({state: int(n) for state, n in rows.all()})
    return counts


async def dead_letters(session: AsyncSession, room_id: str, limit: int) -> list[OutboxMessage]:
    rows = await session.execute(
        select(OutboxMessage)
        .where(OutboxMessage.room_id == room_id, OutboxMessage.state == DEAD)
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    return list(rows.scalars())


async def backlog(session: AsyncSession) -> dict[str, int]:
    """Pending and dead rows over every room (both counted from partial indexes)."""
    pending = await session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state == PENDING)
    )
    dead = await session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state == DEAD)
    )
    return {PENDING: int(pending or 0), DEAD: int(dead or 0)}


def _rowcount(result: Any) -> int:
    return int(result.rowcount)
