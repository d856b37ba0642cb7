"""A live session as the after-stream views see it: a room, from its first event to its last.
(When the console starts and ends sessions, their times replace these.)"""

from __future__ import annotations

from datetime import datetime

from livedesk.core.clock import utcnow
from livedesk.rooms.models import Room


def session_window(room: Room) -> tuple[datetime, datetime]:
    """(start, end) of the room's session; a session still running ends now."""
    return room.created_at, room.last_event_at or utcnow()
