"""Reading a room's sessions: which one a view is about, and the window it covers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ScalarSelect, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core.clock import utcnow
from livedesk.onair.models import LiveSession

LIVE = "live"  # 直播中
ENDED = "ended"  # 已下播
NOT_STARTED = "not_started"  # 未开播: no session yet


async def latest(session: AsyncSession, room_id: str) -> LiveSession | None:
    """The room's newest session (open or ended), None before its first 开播."""
    query = (
        select(LiveSession)
        .where(LiveSession.room_id == room_id)
        .order_by(LiveSession.id.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


def open_since(room_id: str) -> ScalarSelect[datetime | None]:
    """When the room's newest session started while it is open (NULL once it ended, or before
    the first 开播), as a subquery: a statement that counts "in the open session" reads it
    itself instead of a round trip of its own for `latest`."""
    return (
        select(case((LiveSession.ended_at.is_(None), LiveSession.started_at)))
        .where(LiveSession.room_id == room_id)
        .order_by(LiveSession.id.desc())
        .limit(1)
        .scalar_subquery()
    )


async def find(session: AsyncSession, room_id: str, session_id: int) -> LiveSession | None:
    found = await session.get(LiveSession, session_id)
    return found if found is not None and found.room_id == room_id else None


async def of_room(session: AsyncSession, room_id: str) -> list[LiveSession]:
    """Every session of the room, newest first."""
    query = (
        select(LiveSession).where(LiveSession.room_id == room_id).order_by(LiveSession.id.desc())
    )
    return list((await session.execute(query)).scalars())


async def latest_by_room(session: AsyncSession) -> dict[str, LiveSession]:
    """Each room's newest session, for the overview (one query, whatever the room count)."""
    newest = (
        select(LiveSession.room_id, func.max(LiveSession.id).label("id"))
        .group_by(LiveSession.room_id)
        .subquery()
    )
    query = select(LiveSession).join(newest, LiveSession.id == newest.c.id)
    return {row.room_id: row for row in (await session.execute(query)).scalars()}


def state_of(live: LiveSession | None) -> str:
    if live is None:
        return NOT_STARTED
    return LIVE if live.ended_at is None else ENDED


def window(live: LiveSession, now: datetime | None = None) -> tuple[datetime, datetime]:
    """(start, end) the session covers; an open session runs until now."""
    return live.started_at, live.ended_at or now or utcnow()


def to_dict(live: LiveSession | None) -> dict[str, Any]:
    """A session as the API and the live channel's `session` message carry it."""
    if live is None:
        return {"state": NOT_STARTED, "id": None, "started_at": None, "ended_at": None}
    return {
        "state": state_of(live),
        "id": live.id,
        "started_at": live.started_at.isoformat(),
        "started_by": live.started_by,
        "ended_at": live.ended_at.isoformat() if live.ended_at else None,
        "ended_by": live.ended_by,
        "kind": live.kind,
    }


async def chosen(session: AsyncSession, room_id: str, session_id: int | None) -> LiveSession | None:
    """The session a view is about: `session_id` when given (None if not this room's), else the
    room's newest."""
    if session_id is not None:
        return await find(session, room_id, session_id)
    return await latest(session, room_id)


def figures(
    live: LiveSession | None, counters: dict[str, int], kpi: dict[str, Any] | None
) -> tuple[dict[str, int], dict[str, Any]]:
    """(counters, last kpi frame) a view reports: the room's own (given) while its session
    runs or when it never had one, the session's as they stood at 下播 once it ended (the
    room goes on counting what comes after)."""
    if live is not None and live.ended_at is not None:
        return dict(live.counters or {}), dict(live.kpi or {})
    return dict(counters), dict(kpi or {})
