"""The presence model (rooms.presence) on SQLite and PostgreSQL: enter/leave where a platform
sends them, estimated from activity within the window where it does not, with dwell."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core.db import commit, create_engine, session_factory
from livedesk.ingest.schemas import Event
from livedesk.rooms import service as rooms
from livedesk.rooms.presence import ACTIVITY_WINDOW_S, PresenceChange, RoomPresence

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def _at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def _event(room_id: str, kind: str, user: str, at_s: float, platform: str, **extra: Any) -> Event:
    body = {"id": uuid.uuid4().hex, "type": kind, "room_id": room_id, "ts": _at(at_s)}
    return Event.model_validate({**body, "user": {"id": user}, **extra}).on(platform)


@pytest.fixture
async def session(database_url: str) -> AsyncIterator[AsyncSession]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            yield session
    finally:
        await engine.dispose()


class _Room:
    """A room's presence driven batch by batch, as the pipeline does (one commit each)."""

    def __init__(self, session: AsyncSession, room_id: str, presence: RoomPresence):
        self.session, self.id, self.presence = session, room_id, presence
        self.counts = PresenceChange()

    async def batch(
        self, events: Sequence[Event], now_s: float, returning: Sequence[bool] | None = None
    ) -> PresenceChange:
        flags = list(returning) if returning is not None else [False] * len(events)
        change = await self.presence.observe(self.session, events, flags, _at(now_s))
        for name in vars(change):
            setattr(self.counts, name, getattr(self.counts, name) + getattr(change, name))
        await commit(self.session)
        return change

    async def present(self) -> dict[str, tuple[int, bool]]:
        return {
            f"{v.account[0]}:{v.account[1]}": (v.dwell_s, v.estimated)
            for v in await self.presence.present()
        }


async def _room(session: AsyncSession, platform: str) -> _Room:
    room_id = f"room-{uuid.uuid4().hex[:8]}"
    await rooms.ensure_room(session, room_id, platform)
    await commit(session)
    return _Room(session, room_id, await RoomPresence.load(session, room_id))


async def test_enter_and_leave_count_where_the_platform_sends_them(session):
    room = await _room(session, "generic")
    r = room.id
    await room.batch(
        [_event(r, "enter", "a", 0, "generic"), _event(r, "enter", "b", 10, "generic")],
        now_s=10,
        returning=[True, False],
    )
    # A comment from a generic viewer does not make anyone present: enter/leave say.
    await room.batch([_event(r, "comment", "c", 20, "generic", content="hi")], now_s=20)
    await room.batch([_event(r, "leave", "b", 70, "generic")], now_s=70)
    assert (room.counts.present, room.counts.returning_present) == (1, 1)
    assert (room.counts.first_visits, room.counts.estimated_present) == (2, 0)
    # Silent for far longer than the activity window: still present (no leave came).
    await room.batch([], now_s=10 * ACTIVITY_WINDOW_S)
    assert await room.present() == {"generic:a": (10 * ACTIVITY_WINDOW_S, False)}
    assert await room.presence.dwell_s(("generic", "b")) == 60
    assert await room.presence.dwell_s(("generic", "nobody")) == 0


async def test_without_enter_and_leave_viewers_are_estimated_from_activity(session):
    room = await _room(session, "douyin")
    r = room.id
    # Hand-computed: a comments at 0, likes at 120 and gifts at 240 (one stretch: 240 s);
    # b comments once at 60 (0 s); c comments at 0 and at 400 (a gap over 300 s: gone at 300,
    # back at 400 as a new stretch).
    await room.batch(
        [
            _event(r, "comment", "a", 0, "douyin", content="来了"),
            _event(r, "comment", "c", 0, "douyin", content="在"),
        ],
        now_s=0,
    )
    await room.batch([_event(r, "comment", "b", 60, "douyin", content="好")], now_s=60)
    await room.batch([_event(r, "like", "a", 120, "douyin", count=3)], now_s=120)
    await room.batch(
        [_event(r, "gift", "a", 240, "douyin", gift={"name": "rose", "value_cents": 10})],
        now_s=240,
    )
    assert room.counts.present == 3 and room.counts.estimated_present == 3
    assert await room.present() == {
        "douyin:a": (240, True),
        "douyin:b": (0, True),
        "douyin:c": (0, True),
    }
    # At 301 s c's last sign (0 s) is more than the window ago: c has gone.
    await room.batch([], now_s=301)
    assert set(await room.present()) == {"douyin:a", "douyin:b"}
    # At 400 s b (last sign 60) has gone too; c is back, a new stretch.
    await room.batch([_event(r, "comment", "c", 400, "douyin", content="回来了")], now_s=400)
    assert await room.present() == {"douyin:a": (240, True), "douyin:c": (0, True)}
    # At 600 s a (last sign 240) has gone, c (400) stays.
    await room.batch([], now_s=600)
    assert await room.present() == {"douyin:c": (0, True)}
    assert await room.presence.dwell_s(("douyin", "a")) == 240
    assert room.counts.present == 1 and room.counts.estimated_present == 1
    assert room.counts.first_visits == 3  # c's return is not a new viewer


async def test_a_platform_that_sends_enter_switches_its_viewers_to_enter_and_leave(session):
    room = await _room(session, "generic")
    r = room.id
    await room.batch([_event(r, "comment", "a", 0, "generic", content="hi")], now_s=0)
    assert room.counts.estimated_present == 1
    # The first enter from the platform: from now on its viewers come and go by enter/leave.
    await room.batch([_event(r, "enter", "a", 30, "generic")], now_s=30)
    assert (room.counts.present, room.counts.estimated_present) == (1, 0)
    await room.batch([_event(r, "comment", "z", 40, "generic", content="hi")], now_s=40)
    await room.batch([], now_s=1000)
    assert await room.present() == {"generic:a": (1000, False)}  # since the first comment
    # Another worker taking the room over reads which platforms send enter/leave.
    again = await RoomPresence.load(session, r)
    assert not again.estimates("generic") and again.estimates("douyin")


async def test_the_dwell_of_a_viewer_of_the_batch_is_read_from_its_row(session):
    # Claims ask for the claimer's dwell (blind boxes, anti-abuse): a viewer the batch saw is
    # answered from the row the batch loaded, not read again.
    room = await _room(session, "generic")
    r = room.id
    await room.batch([_event(r, "enter", "a", 0, "generic")], now_s=0)
    await room.presence.observe(session, [_event(r, "like", "a", 30, "generic")], [False], _at(30))
    sent: list[str] = []

    def _seen(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        sent.append(statement)

    engine = session.bind.sync_engine  # type: ignore[union-attr]
    sa_event.listen(engine, "before_cursor_execute", _seen)
    try:
        assert await room.presence.dwell_s(("generic", "a")) == 30
    finally:
        sa_event.remove(engine, "before_cursor_execute", _seen)
    assert sent == []
    assert await room.presence.dwell_s(("generic", "nobody")) == 0  # not in the batch: read
    await commit(session)
