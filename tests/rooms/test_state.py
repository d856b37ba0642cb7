"""The typed room state: what is saved is what is read back, on SQLite and PostgreSQL; a room
saved before the state had a version reads the same; an unknown version is refused."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from livedesk.core.db import commit, create_engine, session_factory
from livedesk.rooms import service as rooms
from livedesk.rooms.models import Room
from livedesk.rooms.state import STATE_VERSION, RoomState


def _full() -> RoomState:
    return RoomState(
        kpi={"orders": 2},
        sentiment={"index_1m": 0.7},
        kpi_at=1765000000.5,
        hints={"on_screen": []},
        alerts={"open": {}},
        greetings={"waiting": []},
        quiet={"by_customer": {}},
        counters={"comments": 5, "sold:A1": 2},
        stock={"A1": 8},
        known={42: ("黄金", True)},
        product={"sku": "A1", "stock_left": 8},
        thresholds={"complaint_surge.threshold": 12.0},
        rules={"apply_id": 1, "version_hash": "x", "label": "v1", "since_seq": 1},
    )


def test_round_trip_and_versions():
    state = _full()
    assert RoomState.from_dict(state.to_dict()) == state
    assert RoomState.from_dict(None) == RoomState() == RoomState.from_dict({})
    legacy = {k: v for k, v in state.to_dict().items() if k != "version"}
    assert RoomState.from_dict(legacy) == state  # the string-keyed blob of before
    with pytest.raises(ValueError, match="version"):
        RoomState.from_dict({"version": STATE_VERSION + 1})


async def test_saved_and_read_back_through_the_column(database_url):
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    room_id = f"st-{uuid.uuid4().hex[:8]}"
    try:
        async with sessions() as session:
            await rooms.ensure_room(session, room_id, "generic")
            room = await rooms.lock_room(session, room_id)
            assert room is not None and room.state == RoomState()
            room.state = _full()
            await commit(session)
        async with sessions() as session:
            room = await session.get(Room, room_id)
            assert room is not None and room.state == _full()
            # An equal state assigned again writes nothing; a changed one is written.
            room.state = room.state.with_()
            assert not session.dirty or not session.is_modified(room)
            room.state = room.state.with_(counters={"comments": 6})
            await commit(session)
        async with sessions() as session:
            raw = await session.scalar(
                text("SELECT state FROM rooms WHERE id = :id"), {"id": room_id}
            )
            room = await session.get(Room, room_id)
            assert room is not None and room.state.counters == {"comments": 6}
        assert '"version"' in raw if isinstance(raw, str) else raw["version"] == STATE_VERSION
    finally:
        await engine.dispose()
