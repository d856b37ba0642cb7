"""Inbox writes and the pipeline's reads of it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core.clock import utcnow
from livedesk.core.db import insert_for, is_postgres, one_of
from livedesk.ingest.models import InboxEvent


async def store_events(
    session: AsyncSession,
    platform: str,
    records: Sequence[dict[str, Any]],
    *,
    processed: bool = False,
) -> set[tuple[str, str]]:
    """Insert events, skipping (platform, id) pairs already stored; returns the (room, id) pairs
    that are new. Safe under concurrent retries: the unique constraint decides, never a 500.
    `processed`: kept for the record (and for dedupe) but never handed to the pipeline."""
    if not records:
        return set()
    now = utcnow()
    rows = [
        {
            "platform": platform,
            "event_id": record["id"],
            "room_id": record["room_id"],
            "type": record["type"],
            "payload": record,
            "received_at": now,
            "processed_at": now if processed else None,
        }
        for record in records
    ]
    if is_postgres(session):
        rows = await _in_key_order(session, rows)
    # The table, not the mapped class, and the rows as executemany parameters: one statement
    # compiled once and cached (a VALUES list per batch size would be compiled per request),
    # sent as multi-row INSERTs by SQLAlchemy's insertmanyvalues.
    table = cast(Table, InboxEvent.__table__)
    statement = (
        insert_for(session, table)
        .on_conflict_do_nothing(index_elements=["platform", "event_id"])
        .returning(table.c.room_id, table.c.event_id)
    )
    result = await session.execute(statement, rows)
    return {(room_id, event_id) for room_id, event_id in result.all()}


async def _in_key_order(session: AsyncSession, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows sorted by event id, each with an inbox id taken in arrival order.

    Two requests inserting overlapping events in different orders (a platform retrying a batch
    while the first attempt is in flight, reordered or split) would each wait for a row the
    other inserted first: a deadlock, answered 503. Inserted in one key order, the later of two
    only ever waits for the earlier. The ids are drawn first so the pipeline, which reads the
    inbox in id order, still processes the events in the order the platform sent them.
    """
    ids = sorted((await session.execute(_NEXT_IDS, {"n": len(rows)})).scalars())
    for row, inbox_id in zip(rows, ids, strict=True):
        row["id"] = inbox_id
    return sorted(rows, key=lambda row: row["event_id"])


_NEXT_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('inbox', 'id')) FROM generate_series(1, :n)"
)


async def pending_rooms(session: AsyncSession, limit: int = 1000) -> list[str]:
    query = (
        select(InboxEvent.room_id)
        .where(InboxEvent.processed_at.is_(None))
        .group_by(InboxEvent.room_id)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


async def pending_events(
    session: AsyncSession, room_id: str, limit: int, *, after_id: int = 0
) -> list[InboxEvent]:
    query = (
        select(InboxEvent)
        .where(
            InboxEvent.room_id == room_id,
            InboxEvent.processed_at.is_(None),
            InboxEvent.id > after_id,
        )
        .order_by(InboxEvent.id)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


async def mark_processed(session: AsyncSession, ids: Sequence[int]) -> None:
    statement = (
        update(InboxEvent).where(one_of(session, InboxEvent.id, ids)).values(processed_at=utcnow())
    )
    await session.execute(statement.execution_options(synchronize_session=False))
