"""Where a room's rolling windows (livedesk.analysis.windows) are saved: the journal its owner
writes in each batch's transaction, so the next owner (after a hand-over or a SIGKILL) restores
exactly what the last committed batch counted.

The head (newest bucket, session totals) rides in the room row's state, which every batch
writes anyway (`RoomState.windows_head`); each ring slot's bucket is a row of
`room_window_buckets`, each user's newest sightings a row of `room_window_users`. A batch
upserts the buckets and users it fed (one executemany each) and, when the retention moved on,
deletes the users who left it: a few rows per batch, where the windows saved whole were
hundreds of kilobytes of JSON after a minute of a busy room.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.analysis.buckets import MAX_BUCKETS
from livedesk.analysis.windows import RoomWindows, WindowsJournal
from livedesk.core.db import insert_for
from livedesk.core.jsonutil import dumps_str, loads
from livedesk.rooms.models import RoomWindowBucket, RoomWindowUser

_BUCKETS = RoomWindowBucket.__table__
_USERS = RoomWindowUser.__table__


async def save(session: AsyncSession, room_id: str, journal: WindowsJournal) -> None:
    """Write a journal's buckets and users (its head is the caller's, in the room state)."""
    if journal.forget_before is not None:
        await session.execute(
            delete(RoomWindowUser).where(
                RoomWindowUser.room_id == room_id, RoomWindowUser.active < journal.forget_before
            )
        )
    if journal.buckets:
        rows = [
            {"room_id": room_id, "slot": raw["index"] % MAX_BUCKETS, "body": dumps_str(raw)}
            for raw in journal.buckets
        ]
        upsert = insert_for(session, _BUCKETS)
        await session.execute(
            upsert.on_conflict_do_update(
                index_elements=["room_id", "slot"], set_={"body": upsert.excluded.body}
            ),
            rows,
        )
    if journal.users:
        users = [
            {"room_id": room_id, "user_id": user_id, "commented": commented, "active": active}
            for user_id, commented, active in journal.users
        ]
        upsert = insert_for(session, _USERS)
        await session.execute(
            upsert.on_conflict_do_update(
                index_elements=["room_id", "user_id"],
                set_={"commented": upsert.excluded.commented, "active": upsert.excluded.active},
            ),
            users,
        )


async def load(session: AsyncSession, room_id: str, head: dict[str, Any] | None) -> RoomWindows:
    """The room's windows as last saved (`head`: the room state's `windows_head`)."""
    if head is None:  # never saved: the room has had no event yet
        return RoomWindows()
    buckets = await session.scalars(
        select(RoomWindowBucket.body).where(RoomWindowBucket.room_id == room_id)
    )
    users = await session.execute(
        select(RoomWindowUser.user_id, RoomWindowUser.commented, RoomWindowUser.active).where(
            RoomWindowUser.room_id == room_id
        )
    )
    return RoomWindows.restore(
        head,
        [loads(body) for body in buckets],
        [(user_id, commented, active) for user_id, commented, active in users],
    )
