"""Who is in the room: enter/leave bookkeeping for viewer counts, returning share and dwell."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core.db import one_of
from livedesk.ingest.schemas import Event
from livedesk.rooms.models import RoomViewer


def viewer_key(event: Event) -> str:
    """A viewer's key in the room: `platform:user id` (a multi-cast room has several
    platforms, and a user id means someone only on its own platform)."""
    account = event.account
    assert account is not None, "only events with a user have a viewer"
    return f"{account[0]}:{account[1]}"


@dataclass
class ViewerChange:
    """What one enter/leave did to the room's counts."""

    present: int = 0  # -1, 0 or +1
    returning_present: int = 0
    first_visit: bool = False


class ViewerBook:
    """The room's viewer rows touched by one batch, loaded once and updated in memory
    (the session flushes them with the batch's commit)."""

    def __init__(self, session: AsyncSession, room_id: str):
        self._session = session
        self._room_id = room_id
        self._rows: dict[str, RoomViewer | None] = {}

    async def load(self, user_keys: set[str]) -> None:
        missing = [key for key in user_keys if key not in self._rows]
        if not missing:
            return
        query = select(RoomViewer).where(
            RoomViewer.room_id == self._room_id,
            one_of(self._session, RoomViewer.user_key, missing),
        )
        found = {row.user_key: row for row in (await self._session.execute(query)).scalars()}
        for key in missing:
            self._rows[key] = found.get(key)

    def record(self, user_key: str, kind: str, at: datetime, *, returning: bool) -> ViewerChange:
        """Apply an enter or leave (after `load`). Repeated enters or leaves change nothing."""
        viewer = self._rows.get(user_key)
        if kind == "enter":
            if viewer is None:
                viewer = RoomViewer(
                    room_id=self._room_id,
                    user_key=user_key,
                    present=True,
                    is_returning=returning,
                    entered_at=at,
                    last_seen_at=at,
                    dwell_s=0,
                )
                self._session.add(viewer)
                self._rows[user_key] = viewer
                return ViewerChange(1, int(returning), first_visit=True)
            if viewer.present:
                viewer.last_seen_at = max(viewer.last_seen_at, at)
                return ViewerChange()
            viewer.present, viewer.entered_at, viewer.last_seen_at = True, at, at
            viewer.is_returning = viewer.is_returning or returning
            return ViewerChange(1, int(viewer.is_returning))
        if viewer is None or not viewer.present:
            return ViewerChange()
        viewer.dwell_s += max(0, int((at - viewer.entered_at).total_seconds()))
        viewer.present, viewer.last_seen_at = False, at
        return ViewerChange(-1, -int(viewer.is_returning))


async def dwell_s(session: AsyncSession, room_id: str, user_key: str, now: datetime) -> int:
    """Seconds this viewer has spent in the room so far, counting the current visit."""
    viewer = await session.get(RoomViewer, (room_id, user_key))
    if viewer is None:
        return 0
    current = (now - viewer.entered_at).total_seconds() if viewer.present else 0
    return viewer.dwell_s + max(0, int(current))
