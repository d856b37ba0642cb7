"""The room row: created on first sight, locked for a batch, its log appended under that lock.

The log itself (seq, epoch, snapshot fold, doorbell) is livedesk.roomlog; this module keeps
the room row's side of it: the counter, the epoch and the snapshot live in the row, so they
move with the lock.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.core import sqlite
from livedesk.core.bus import Bus
from livedesk.core.clock import utcnow
from livedesk.core.db import insert_for
from livedesk.roomlog import log as roomlog
from livedesk.roomlog import snapshot as snapshots
from livedesk.roomlog.messages import LogMessage, Message, new_epoch
from livedesk.rooms.models import Room
from livedesk.rooms.state import RoomState

# The platform of a room ops opened (开播) before its first event without naming one: its
# first event's platform becomes the room's (`adopt_platform`).
PLATFORM_UNKNOWN = ""


async def ensure_room(
    session: AsyncSession, room_id: str, platform: str, *, title: str | None = None
) -> None:
    """Create the room on first sight; a no-op (and no lock wait) when it exists."""
    values = {
        "id": room_id,
        "platform": platform,
        "title": title or room_id,
        "status": "live",
        "last_seq": 0,
        "viewers_now": 0,
        "promotions_paused": False,
        "state": RoomState(),
        "epoch": new_epoch(),
        "snapshot": {},
        "created_at": utcnow(),
    }
    upsert = insert_for(session, Room).values(values)
    await session.execute(upsert.on_conflict_do_nothing(index_elements=["id"]))


def adopt_platform(room: Room, platform: str) -> None:
    """A room opened before its first event without a platform takes its first event's."""
    if room.platform == PLATFORM_UNKNOWN:
        room.platform = platform


async def lock_room(
    session: AsyncSession, room_id: str, *, skip_locked: bool = False
) -> Room | None:
    """Take the room's row lock for this transaction (None: no such room, or taken elsewhere
    when `skip_locked`). All log appends of a room happen under this lock."""
    # SQLite has no row locks: there the process's writers' turn stands in for this one.
    await sqlite.take_write_turn(session)
    query = select(Room).where(Room.id == room_id).with_for_update(skip_locked=skip_locked)
    query = query.execution_options(populate_existing=True)
    return (await session.execute(query)).scalar_one_or_none()


async def append(
    session: AsyncSession, room: Room, messages: Sequence[Message]
) -> list[LogMessage]:
    """Append messages to a locked room's log; seq continues from the room's counter."""
    head = roomlog.LogHead(room.id, room.epoch, room.last_seq, room.snapshot or {})
    appended = await roomlog.append(session, head, messages)
    if appended:
        room.last_seq = head.last_seq
        room.snapshot = head.snapshot
    return appended


async def tell(session: AsyncSession, bus: Bus, room: Room, messages: Sequence[Message]) -> None:
    """Append to a locked room's log and ring the panels' doorbell once the caller commits."""
    roomlog.announce(session, bus, await append(session, room, messages))


async def head_of(session: AsyncSession, room_id: str) -> tuple[int, str] | None:
    """(last_seq, epoch) of a room, or None when there is no such room."""
    row = (
        await session.execute(select(Room.last_seq, Room.epoch).where(Room.id == room_id))
    ).one_or_none()
    return (row[0], row[1]) if row is not None else None


async def snapshot_of(session: AsyncSession, room_id: str) -> roomlog.Snapshot | None:
    """The room row's snapshot with its seq and epoch, read together so they agree."""
    row = (
        await session.execute(
            select(Room.last_seq, Room.epoch, Room.snapshot).where(Room.id == room_id)
        )
    ).one_or_none()
    if row is None:
        return None
    last_seq, epoch, snapshot = row
    return roomlog.Snapshot(epoch, last_seq, snapshot or snapshots.empty_snapshot())


async def renew_epochs(session: AsyncSession) -> int:
    """Give every room a new epoch (after a database restore: the seqs panels saw before may
    come again with other messages). Returns how many rooms."""
    room_ids = (await session.scalars(select(Room.id))).all()
    for room_id in room_ids:
        room = await lock_room(session, room_id)
        if room is not None:
            room.epoch = new_epoch()
    return len(room_ids)
