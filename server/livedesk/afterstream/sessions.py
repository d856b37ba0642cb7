"""A live session as the after-stream views see it: the room's newest session, from ops' 开播
to 下播 (livedesk.onair; a room never started: from its first event to its last), its kind,
and the counters its pipeline kept. The kind stays a row per room (session_kinds): the
comparison's baseline is other rooms' sessions, one per room until it compares sessions of
one room."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.afterstream.comparison import BASELINE_SESSIONS
from livedesk.afterstream.models import SessionKind
from livedesk.core.clock import utcnow
from livedesk.onair import records
from livedesk.rooms.models import Room

REGULAR = "regular"
# The kinds a session can be tagged with, and their labels; untagged sessions are regular.
SESSION_KINDS: dict[str, str] = {
    REGULAR: "常规",
    "returning_special": "老客专场",
    "big_promotion": "大促",
    "new_launch": "新品首发",
}


async def session_window(session: AsyncSession, room: Room) -> tuple[datetime, datetime]:
    """(start, end) of the room's session; a session still running ends now."""
    live = await records.latest(session, room.id)
    if live is not None:
        return records.window(live)
    return room.created_at, room.last_event_at or utcnow()


async def recorded_window(session: AsyncSession, room: Room) -> tuple[datetime, datetime] | None:
    """The room's newest session's (start, end) when ops started one; None for a room never
    started (its views cover everything it saw, as before sessions existed)."""
    live = await records.latest(session, room.id)
    return records.window(live) if live is not None else None


async def session_counters(session: AsyncSession, room: Room) -> dict[str, int]:
    """The session's counters (viewers seen, comments, orders …): as they stood at 下播."""
    live = await records.latest(session, room.id)
    counters, _kpi = records.figures(live, room.state.counters, room.state.kpi)
    return counters


async def kind_of(session: AsyncSession, room_id: str) -> str:
    tagged = await session.get(SessionKind, room_id)
    return tagged.kind if tagged is not None else REGULAR


async def regular_before(session: AsyncSession, room: Room) -> list[Room]:
    """The latest regular sessions that ended before this one started (the baseline)."""
    start, _end = await session_window(session, room)
    query = (
        select(Room)
        .outerjoin(SessionKind, SessionKind.room_id == Room.id)
        .where(
            Room.id != room.id,
            Room.last_event_at.is_not(None),
            Room.last_event_at <= start,
            or_(SessionKind.kind.is_(None), SessionKind.kind == REGULAR),
        )
        .order_by(Room.last_event_at.desc())
        .limit(BASELINE_SESSIONS)
    )
    return list((await session.execute(query)).scalars())
