"""Retention (livedesk.pruning): what is past its window goes, and nothing a pending batch or
a resuming panel still needs does. On SQLite and PostgreSQL, each test in a database of its
own (pruning is table-wide: in the shared database it would delete other tests' rows)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from livedesk.core.clock import utcnow
from livedesk.core.db import commit, create_engine, session_factory
from livedesk.ingest.models import InboxEvent
from livedesk.promotions.models import IdempotencyRecord
from livedesk.pruning import Windows, prune
from livedesk.roomlog.messages import new_epoch
from livedesk.roomlog.models import RoomLogEntry
from livedesk.rooms.models import Room

LIVEDESK = str(Path(sys.executable).with_name("livedesk"))
WINDOWS = Windows(
    inbox=timedelta(days=30),
    room_log=timedelta(days=90),
    idempotency=timedelta(hours=24),
    resume_max_messages=3,
)


def inbox_event(event_id: str, received_days_ago: float, processed_days_ago: float | None):
    now = utcnow()
    return InboxEvent(
        platform="generic",
        event_id=event_id,
        room_id="r",
        type="comment",
        payload={},
        received_at=now - timedelta(days=received_days_ago),
        processed_at=None
        if processed_days_ago is None
        else now - timedelta(days=processed_days_ago),
    )


def room(room_id: str, messages: int) -> Room:
    return Room(id=room_id, platform="generic", epoch=new_epoch(), last_seq=messages)


def log(room_id: str, messages: int, days_ago: float) -> list[RoomLogEntry]:
    created = utcnow() - timedelta(days=days_ago)
    return [
        RoomLogEntry(room_id=room_id, seq=seq, type="comment", body="{}", created_at=created)
        for seq in range(1, messages + 1)
    ]


def key(name: str, hours_ago: float, state: str = "done") -> IdempotencyRecord:
    return IdempotencyRecord(
        scope="ops-1",
        key=name,
        request_hash="h",
        state=state,
        created_at=utcnow() - timedelta(hours=hours_ago),
    )


async def test_prune_forgets_only_what_is_past_its_window(private_database_url):
    engine = create_engine(private_database_url)
    sessions = session_factory(engine)
    try:
        async with sessions() as session:
            session.add_all([room("old-room", 10), room("recent-room", 10)])
            await session.flush()  # the log rows' foreign key
            session.add_all(
                [
                    inbox_event("old-done", 40, 39),
                    inbox_event("recent-done", 40, 2),  # processed late: its window starts then
                    inbox_event("old-pending", 400, None),  # a batch still needs it
                    *log("old-room", messages=10, days_ago=100),
                    *log("recent-room", messages=10, days_ago=1),
                    key("old", 30),
                    key("stuck", 30, state="in_flight"),
                    key("recent", 1),
                ]
            )
            await commit(session)

        async with sessions() as session:
            pruned = await prune(session, WINDOWS)
            await commit(session)
        assert (pruned.inbox, pruned.room_log, pruned.idempotency_keys) == (1, 7, 2)

        async with sessions() as session:
            assert set(await session.scalars(select(InboxEvent.event_id))) == {
                "recent-done",
                "old-pending",
            }
            kept = (await session.execute(select(RoomLogEntry.room_id, RoomLogEntry.seq))).all()
            # The old room keeps exactly the history a panel may resume from: its last three.
            assert sorted(seq for room, seq in kept if room == "old-room") == [8, 9, 10]
            assert sorted(seq for room, seq in kept if room == "recent-room") == list(range(1, 11))
            assert set(await session.scalars(select(IdempotencyRecord.key))) == {"recent"}

        async with sessions() as session:  # pruning again finds nothing more
            again = await prune(session, WINDOWS)
            await commit(session)
        assert (again.inbox, again.room_log, again.idempotency_keys) == (0, 0, 0)
    finally:
        await engine.dispose()


async def test_livedesk_prune_uses_the_configured_windows(private_database_url):
    engine = create_engine(private_database_url)
    sessions = session_factory(engine)
    try:
        async with sessions() as session:
            session.add_all([inbox_event("five-days", 6, 5), inbox_event("one-day", 2, 1)])
            await commit(session)
        result = await asyncio.to_thread(
            subprocess.run,
            [LIVEDESK, "prune"],
            capture_output=True,
            text=True,
            timeout=60,
            env={
                **os.environ,
                "LIVEDESK_DATABASE_URL": private_database_url,
                "LIVEDESK_INBOX_RETENTION_DAYS": "3",
            },
        )
        assert result.returncode == 0, result.stderr
        assert "1 inbox events" in result.stderr
        async with sessions() as session:
            assert set(await session.scalars(select(InboxEvent.event_id))) == {"one-day"}
    finally:
        await engine.dispose()
