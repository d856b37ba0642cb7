"""A live session as the after-stream views see it: a room, from its first event to its last
(when the console starts and ends sessions, their times replace these), its kind, and the
counters its pipeline kept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.afterstream.comparison import BASELINE_SESSIONS
from livedesk.afterstream.models import SessionKind
from livedesk.core.clock import utcnow
from livedesk.rooms.models import Room

REGULAR = "regular"
# The kinds a session can be tagged with, and their labels; untagged sessions are regular.
SESSION_KINDS: dict[str, str] = {
    REGULAR: "常规",
    "returning_special": "老客专场",
    "big_promotion": "大促",
    "new_launch": "新品首发",
}


def session_window(room: Room) -> tuple[datetime, datetime]:
    """(start, end) of the room's session; a session still running ends now."""
    return room.created_at, room.last_event_at or utcnow()


def session_counters(room: Room) -> dict[str, int]:
    """The room's whole-session counters (viewers seen, comments, orders …)."""
    return dict(room.state.counters)


async def kind_of(session: AsyncSession, room_id: str) -> str:
    tagged = await session.get(SessionKind, room_id)
    return tagged.kind if tagged is not None else REGULAR


async def regular_before(session: AsyncSession, room: Room) -> list[Room]:
    """The latest regular sessions that ended before this one started (the baseline)."""
    start, _end = session_window(room)
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
