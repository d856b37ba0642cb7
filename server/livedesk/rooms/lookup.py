"""The room an endpoint names, or its 404: as it is, or locked for a change (every endpoint
that appends to a room's log takes its lock first, as the pipeline does)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core.errors import ApiError
from livedesk.rooms import service
from livedesk.rooms.models import Room


async def room_or_404(session: AsyncSession, room_id: str) -> Room:
    room = await session.get(Room, room_id)
    if room is None:
        raise ApiError(404, f"no room {room_id!r}")
    return room


async def locked_room_or_404(session: AsyncSession, room_id: str) -> Room:
    room = await service.lock_room(session, room_id)
    if room is None:
        raise ApiError(404, f"no room {room_id!r}")
    return room
