"""Retention: what the database may forget, and when (`livedesk prune`, docs/configuration).

Three tables grow with every event and are only needed for a while:

- the inbox: a processed event is kept `inbox_retention_days` (the platforms' redeliveries
  are caught by its (platform, event id) key while it is there; dry runs replay it); an
  unprocessed one is never pruned, whatever its age, since a batch still needs it;
- the room log: a message is kept `room_log_retention_days` (after-stream reviews and reports
  read it), and a room's last `resume_max_messages` always, whatever their age: that is the
  history a panel may resume from (further back it gets a snapshot anyway);
- idempotency keys: kept `idempotency_retention_hours` (an ops client retries within
  minutes); a key still in flight is only pruned once far past the claim's staleness.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core.clock import utcnow
from livedesk.core.settings import Settings
from livedesk.ingest.models import InboxEvent
from livedesk.promotions.models import IdempotencyRecord
from livedesk.roomlog.models import RoomLogEntry
from livedesk.rooms.models import Room


@dataclass(frozen=True, slots=True)
class Windows:
    inbox: timedelta
    room_log: timedelta
    idempotency: timedelta
    resume_max_messages: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Windows:
        return cls(
            inbox=timedelta(days=settings.inbox_retention_days),
            room_log=timedelta(days=settings.room_log_retention_days),
            idempotency=timedelta(hours=settings.idempotency_retention_hours),
            resume_max_messages=settings.resume_max_messages,
        )


@dataclass(frozen=True, slots=True)
class Pruned:
    inbox: int
    room_log: int
    idempotency_keys: int

    def __str__(self) -> str:
        return (
            f"{self.inbox} inbox events, {self.room_log} room log messages, "
            f"{self.idempotency_keys} idempotency keys"
        )


async def prune(session: AsyncSession, windows: Windows, now: datetime | None = None) -> Pruned:
    """Delete what is past its window; the caller commits."""
    now = now or utcnow()
    inbox = await session.execute(
        delete(InboxEvent).where(
            InboxEvent.processed_at.is_not(None),
            InboxEvent.processed_at < now - windows.inbox,
        )
    )
    # A room's head seq, correlated: rows within the resume window stay whatever their age.
    head = select(Room.last_seq).where(Room.id == RoomLogEntry.room_id).scalar_subquery()
    room_log = await session.execute(
        delete(RoomLogEntry).where(
            RoomLogEntry.created_at < now - windows.room_log,
            RoomLogEntry.seq <= head - windows.resume_max_messages,
        )
    )
    keys = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - windows.idempotency)
    )
    return Pruned(
        inbox=_count(inbox),
        room_log=_count(room_log),
        idempotency_keys=_count(keys),
    )


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
