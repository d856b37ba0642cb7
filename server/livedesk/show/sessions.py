"""开播 and 下播: a room's session opens and closes under the room's row lock, so no pipeline
batch straddles the moment; the session's figures start from zero at 开播 and are kept as
they stood at 下播."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core.errors import ApiError
from livedesk.onair import records
from livedesk.onair.kinds import REGULAR
from livedesk.onair.models import LiveSession, RoomKind
from livedesk.rooms.kpis import product_figures, tallies
from livedesk.rooms.models import Room, RoomCart, RoomViewer

# Counters that are a state of the room now, not a tally of the session: kept across 开播.
GAUGES = ("returning_present", "estimated_present")


async def start(
    session: AsyncSession, room: Room, operator: str, now: datetime, kind: str | None = None
) -> tuple[LiveSession, dict[str, Any]]:
    """Open a session of the (locked) room, of `kind` (None: regular, or the tag of a room
    never started before); returns it and the zeroed kpi frame to send. 409 when the room is
    already on air."""
    current = await records.latest(session, room.id)
    if current is not None and current.ended_at is None:
        raise ApiError(
            409,
            f"room {room.id!r} is already live (since {current.started_at.isoformat()})",
            session=records.to_dict(current),
        )
    live = LiveSession(room_id=room.id, started_at=now, started_by=operator, kind=REGULAR)
    if current is None:
        await _take_room_kind(session, live)
    if kind is not None:
        live.kind, live.kind_set_by = kind, operator
    session.add(live)
    await session.flush()
    kpi = _fresh_figures(room)
    await _fresh_audience(session, room.id, now)
    room.status = records.LIVE
    return live, kpi


async def end(session: AsyncSession, room: Room, operator: str, now: datetime) -> LiveSession:
    """Close the (locked) room's open session, keeping its figures as they stand. 409 when
    the room is not on air."""
    live = await records.latest(session, room.id)
    if live is None or live.ended_at is not None:
        raise ApiError(409, f"room {room.id!r} is not live: start a session first")
    live.ended_at, live.ended_by = now, operator
    counters = dict(room.state.counters)
    live.counters = counters
    live.kpi = {**(room.state.kpi or {}), **tallies(counters)}
    room.status = records.ENDED
    return live


async def _take_room_kind(session: AsyncSession, live: LiveSession) -> None:
    """A room's first 开播: a tag ops gave the room before (RoomKind) is this session's now."""
    tagged = await session.get(RoomKind, live.room_id)
    if tagged is not None:
        live.kind, live.kind_set_by = tagged.kind, tagged.set_by
        await session.delete(tagged)


def _fresh_figures(room: Room) -> dict[str, Any]:
    """Start the room's tallies from zero: the pipeline reads its counters from the room row
    on its next batch (the log append that announces the session moves the room's seq, and a
    batch whose cached seq is behind reloads). The greeting queue and the customers already
    looked at start afresh too, so a returning customer is greeted again in the new session."""
    state = room.state
    counters = {key: state.counters[key] for key in GAUGES if key in state.counters}
    # Who is in the room at 开播 is the session's audience.
    counters["viewers_seen"] = room.viewers_now
    counters["returning_seen"] = counters.get("returning_present", 0)
    counters["viewers_seen_estimated"] = counters.get("estimated_present", 0)
    counters["viewers_interacted"] = 0  # counted from 开播 (absent would read "not counted")
    kpi = {
        **(state.kpi or {}),
        **tallies(counters),
        "viewers_now": room.viewers_now,
        "products": product_figures(counters, state.stock),  # none sold yet: stock only
    }
    # kpi_at 0: the next batch sends a fresh frame whatever the cadence.
    room.state = state.with_(counters=counters, kpi=kpi, kpi_at=0.0, greetings=None, known={})
    return kpi


async def _fresh_audience(session: AsyncSession, room_id: str, now: datetime) -> None:
    """Viewers who left before 开播 count as first visits when they come back; those present
    start their dwell (for blind boxes) and their 互动率 afresh at 开播, and so do carts
    (加购转化)."""
    await session.execute(
        delete(RoomViewer).where(RoomViewer.room_id == room_id, RoomViewer.present.is_(False))
    )
    await session.execute(delete(RoomCart).where(RoomCart.room_id == room_id))
    await session.execute(
        update(RoomViewer)
        .where(RoomViewer.room_id == room_id)
        .values(entered_at=now, dwell_s=0, interacted=False)
        .execution_options(synchronize_session=False)
    )
