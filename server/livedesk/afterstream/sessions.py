"""A session as the after-stream views see it: one of ops' sessions of a room (开播 → 下播,
livedesk.onair; the room's newest unless a view names another), or, for a room never started,
everything the room saw (from its creation to its last event) as its one session. Its kind
(老客专场, 常规…) is the session's own; a room never started keeps its tag in RoomKind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.afterstream.comparison import BASELINE_SESSIONS
from livedesk.core.clock import utcnow
from livedesk.core.errors import ApiError
from livedesk.onair import records
from livedesk.onair.kinds import REGULAR
from livedesk.onair.models import LiveSession, RoomKind
from livedesk.rooms.models import Room

# A session's (start, end) when ops started it; None: all the room saw.
Window = tuple[datetime, datetime] | None


@dataclass(frozen=True)
class ShowSession:
    room: Room
    live: LiveSession | None  # None: a room never started
    kind: str

    @property
    def id(self) -> int | None:
        return self.live.id if self.live is not None else None

    def span(self, now: datetime | None = None) -> tuple[datetime, datetime]:
        """(start, end) of the session; one still running ends now."""
        if self.live is not None:
            return records.window(self.live, now)
        return self.room.created_at, self.room.last_event_at or now or utcnow()

    def window(self) -> Window:
        """What the views filter by: the session's span, or None for a room never started
        (its views cover everything it saw, as before sessions existed)."""
        return records.window(self.live) if self.live is not None else None

    def counters(self) -> dict[str, int]:
        """The session's counters (viewers seen, comments, orders …): as they stood at 下播."""
        counters, _kpi = records.figures(self.live, self.room.state.counters, self.room.state.kpi)
        return counters

    def describe(self) -> dict[str, object]:
        """The session as the answers name it."""
        start, end = self.span()
        return {
            "room_id": self.room.id,
            "session_id": self.id,
            "state": records.state_of(self.live) if self.live is not None else None,
            "started_at": start.isoformat(),
            "ended_at": end.isoformat(),
        }


async def chosen(session: AsyncSession, room: Room, session_id: int | None) -> ShowSession:
    """The session a view is about: `session_id` (404 when not this room's), else the room's
    newest, else the room's whole history when it never started."""
    live = await records.chosen(session, room.id, session_id)
    if session_id is not None and live is None:
        raise ApiError(404, f"room {room.id!r} has no session {session_id}")
    if live is not None:
        return ShowSession(room, live, live.kind)
    tagged = await session.get(RoomKind, room.id)
    return ShowSession(room, None, tagged.kind if tagged is not None else REGULAR)


async def tag(session: AsyncSession, this: ShowSession, kind: str, operator: str) -> None:
    """Tag the session (老客专场, 常规…); a room never started: its one implicit session."""
    if this.live is not None:
        this.live.kind, this.live.kind_set_by = kind, operator
        return
    tagged = await session.get(RoomKind, this.room.id)
    if tagged is None:
        session.add(RoomKind(room_id=this.room.id, kind=kind, set_by=operator))
    else:
        tagged.kind, tagged.set_by, tagged.set_at = kind, operator, utcnow()


async def regular_before(session: AsyncSession, this: ShowSession) -> list[ShowSession]:
    """The baseline: the latest BASELINE_SESSIONS regular sessions that ended before this one
    started, other sessions of the same room included; ops' sessions and rooms never started
    (ended at their last event) alike."""
    start, _end = this.span()
    started = (
        select(LiveSession, Room)
        .join(Room, Room.id == LiveSession.room_id)
        .where(
            LiveSession.kind == REGULAR,
            LiveSession.ended_at.is_not(None),
            LiveSession.ended_at <= start,
            # Never itself (a session ended the instant it started ends at its own start).
            LiveSession.id != (this.id if this.id is not None else 0),
        )
        .order_by(LiveSession.ended_at.desc())
        .limit(BASELINE_SESSIONS)
    )
    found = [ShowSession(room, live, live.kind) for live, room in await session.execute(started)]
    never_started = (
        select(Room)
        .outerjoin(RoomKind, RoomKind.room_id == Room.id)
        .where(
            Room.id != this.room.id,
            ~exists().where(LiveSession.room_id == Room.id),
            Room.last_event_at.is_not(None),
            Room.last_event_at <= start,
            or_(RoomKind.kind.is_(None), RoomKind.kind == REGULAR),
        )
        .order_by(Room.last_event_at.desc())
        .limit(BASELINE_SESSIONS)
    )
    found += [ShowSession(room, None, REGULAR) for room in await session.scalars(never_started)]
    found.sort(key=lambda other: other.span()[1], reverse=True)
    return found[:BASELINE_SESSIONS]
